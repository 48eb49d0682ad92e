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

# What Perl code prints to STDOUT/STDERR (warn and die messages included)
# becomes tagged records on fd 4, "O <len>\n<bytes>" / "E <len>\n<bytes>",
# so the runner sees them in the order they were written.
package BaiStream {
    sub TIEHANDLE { my ($class, $tag, $fd) = @_; return bless { tag => $tag, fd => $fd }, $class }
    sub _send {
        my ($self, $s) = @_;
        return 1 unless defined $s && length $s;
        utf8::encode($s) if utf8::is_utf8($s);
        my $rec = "$self->{tag} " . length($s) . "\n" . $s;
        while (length $rec) {
            my $n = syswrite($__bai_rec, $rec);
            if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; return 0 }
            substr($rec, 0, $n, '');
        }
        return 1;
    }
    sub PRINT {
        my $self = shift;
        my $s = join(defined $, ? $, : '', map { defined $_ ? $_ : '' } @_);
        $s .= $\ if defined $\;
        return $self->_send($s);
    }
    sub PRINTF { my $self = shift; my $fmt = shift; return $self->_send(sprintf($fmt, @_)) }
    sub WRITE {
        my ($self, $buf, $len, $off) = @_;
        $len = length($buf) unless defined $len;
        my $s = substr($buf, $off || 0, $len);
        $self->_send($s);
        return length $s;
    }
    sub FILENO { return $_[0]{fd} }
    sub BINMODE { return 1 }
    sub CLOSE { return 1 }
    sub OPEN { return 1 }
    sub EOF { return 1 }
    sub READLINE { return undef }
    sub GETC { return undef }
    sub READ { return 0 }
    sub UNTIE { }
}
tie *STDOUT, 'BaiStream', 'O', 1;
tie *STDERR, 'BaiStream', 'E', 2;
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
