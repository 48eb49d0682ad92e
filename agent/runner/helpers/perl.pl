# The bai-runner's Perl REPL helper: reads "X <length>\n<code>" commands on
# fd 3, evals each in package main (so globals and subs persist) and reports
# "F <exit code>\n" on fd 4. A SIGINT dies in the running code; the helper
# survives it.
$| = 1;
{ my $old = select(STDERR); $| = 1; select($old); }
open(my $__bai_ctl, '<&=', 3) or die "fd 3: $!";
open(my $__bai_rec, '>&=', 4) or die "fd 4: $!";
binmode($__bai_ctl);
{ my $old = select($__bai_rec); $| = 1; select($old); }
our $__bai_running = 0;
$SIG{INT} = sub { die "Interrupted\n" if $__bai_running };
while (defined(my $__bai_line = <$__bai_ctl>)) {
    my ($__bai_kind, $__bai_len) = split(' ', $__bai_line);
    my $__bai_code = '';
    while (length($__bai_code) < $__bai_len) {
        my $r = read($__bai_ctl, $__bai_code, $__bai_len - length($__bai_code), length($__bai_code));
        exit(0) unless $r;
    }
    next unless $__bai_kind eq 'X';
    $__bai_running = 1;
    my $__bai_st = 0;
    eval "package main; no strict;\n#line 1 \"<cell>\"\n" . $__bai_code;
    $__bai_running = 0;
    if ($@) {
        print STDERR $@;
        $__bai_st = $@ eq "Interrupted\n" ? 130 : 1;
    }
    print $__bai_rec "F $__bai_st\n";
}
