# The bai-runner's Ruby REPL helper: reads "X <length>\n<code>" commands on
# fd 3, evals each in one binding (so locals, methods and constants persist)
# and reports "F <exit code>\n" on fd 4. A SIGINT raises Interrupt in the
# running code; the helper survives it.
$stdout.sync = true
$stderr.sync = true
$bai_ctl = IO.new(3, 'rb')
$bai_rec = IO.new(4, 'wb')
$bai_rec.sync = true
$bai_running = false
trap('INT') { raise Interrupt if $bai_running }
$bai_binding = TOPLEVEL_BINDING
$bai_cell = 0
loop do
  line = $bai_ctl.gets or exit(0)
  kind, len = line.split(' ')
  len = len.to_i
  code = len > 0 ? $bai_ctl.read(len) : ''
  exit(0) if code.nil?
  next unless kind == 'X'
  code.force_encoding(Encoding::UTF_8)
  $bai_cell += 1
  status = 0
  begin
    $bai_running = true
    eval(code, $bai_binding, "<cell #{$bai_cell}>", 1)
  rescue SystemExit => e
    status = e.status
  rescue Interrupt
    $stderr.puts 'Interrupted'
    status = 130
  rescue Exception => e
    bt = (e.backtrace || []).take_while { |l| l.start_with?('<cell') }
    $stderr.puts "#{bt.first || '<cell>'}: #{e.message} (#{e.class})"
    bt.drop(1).each { |l| $stderr.puts "\tfrom #{l}" }
    status = 1
  ensure
    $bai_running = false
  end
  $stdout.flush
  $stderr.flush
  $bai_rec.write("F #{status}\n")
end
