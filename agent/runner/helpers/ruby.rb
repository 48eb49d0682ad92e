# The bai-runner's Ruby REPL helper: reads "X <length>\n<code>" commands on
# fd 3, evals each in one binding (so locals, methods and constants persist)
# and reports "F <exit code>\n" on fd 4. A SIGINT raises Interrupt in the
# running code; the helper survives it.
$bai_ctl = IO.new(3, 'rb')
$bai_rec = IO.new(4, 'wb')
$bai_rec.sync = true
$bai_rec_lock = Mutex.new

# What Ruby code writes to $stdout/$stderr (and STDOUT/STDERR) becomes tagged
# records on fd 4, "O <len>\n<bytes>" / "E <len>\n<bytes>", so the runner
# sees them in the order they were written. The streams stay IOs on fds 1
# and 2 for fileno, tty? and the like; only writing is redirected.
class BaiStream < IO
  def initialize(fd, tag)
    super(fd, 'w')
    self.autoclose = false
    @bai_tag = tag
  end

  def write(*args)
    s = args.map(&:to_s).join.b
    return 0 if s.empty?
    rec = "#{@bai_tag} #{s.bytesize}\n".b << s
    if $bai_rec_lock.owned?
      $bai_rec.write(rec)
    else
      $bai_rec_lock.synchronize { $bai_rec.write(rec) }
    end
    s.bytesize
  end

  def syswrite(s) = write(s)
  def write_nonblock(s, *) = write(s)
  def <<(s)
    write(s)
    self
  end
  def flush = self
  def fsync = 0
  def sync = true
  def sync=(v); end
end
$stdout = BaiStream.new(1, 'O')
$stderr = BaiStream.new(2, 'E')
Object.send(:remove_const, :STDOUT)
Object.const_set(:STDOUT, $stdout)
Object.send(:remove_const, :STDERR)
Object.const_set(:STDERR, $stderr)
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
