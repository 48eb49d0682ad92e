1;
% The bai-runner's Octave REPL helper: reads "X <length>\n<code>" commands on
% fd 3, evaluates each in the base workspace (so variables persist, and
% results print as at the Octave prompt) and reports "F <exit code>\n" on
% fd 4.
function bai_main()
  ctl = fopen("/proc/self/fd/3", "r");
  rec = fopen("/proc/self/fd/4", "w");
  while true
    hdr = fgetl(ctl);
    if ! ischar(hdr)
      exit(0);
    end
    parts = strsplit(hdr, " ");
    len = str2double(parts{2});
    code = "";
    if len > 0
      code = fread(ctl, len, "uint8=>char")';
    end
    if ! strcmp(parts{1}, "X")
      continue;
    end
    status = 0;
    try
      evalin("base", code);
    catch err
      fprintf(stderr, "error: %s\n", err.message);
      status = 1;
    end
    fflush(stdout);
    fflush(stderr);
    fprintf(rec, "F %d\n", status);
    fflush(rec);
  end
end
bai_main();
