-- The bai-runner's Lua REPL helper: reads "X <length>\n<code>" commands on
-- fd 3, loads and runs each in the global environment (so globals persist)
-- and reports "F <exit code>\n" on fd 4. The standalone interpreter turns a
-- SIGINT into an "interrupted!" error, which the protected call catches.
io.stdout:setvbuf("no")
io.stderr:setvbuf("no")
local ctl = assert(io.open("/proc/self/fd/3", "rb"))
local rec = assert(io.open("/proc/self/fd/4", "wb"))
local cell = 0
while true do
  local line = ctl:read("l")
  if not line then os.exit(0) end
  local kind, len = line:match("^(%S+) (%d+)")
  len = tonumber(len) or 0
  local code = ""
  if len > 0 then
    code = ctl:read(len)
    if not code then os.exit(0) end
  end
  if kind == "X" then
    cell = cell + 1
    local status = 0
    local name = "=<cell " .. cell .. ">"
    local fn, err = load("return " .. code, name, "t")
    local show = fn ~= nil
    if not fn then fn, err = load(code, name, "t") end
    if not fn then
      io.stderr:write(tostring(err), "\n")
      status = 1
    else
      local res = table.pack(xpcall(fn, debug.traceback))
      if not res[1] then
        local msg = tostring(res[2])
        if msg:find("interrupted!", 1, true) then
          io.stderr:write("Interrupted\n")
          status = 130
        else
          io.stderr:write(msg, "\n")
          status = 1
        end
      elseif show and res.n > 1 then
        local out = {}
        for i = 2, res.n do out[#out + 1] = tostring(res[i]) end
        io.stdout:write(table.concat(out, "\t"), "\n")
      end
    end
    io.stdout:flush()
    io.stderr:flush()
    rec:write("F " .. status .. "\n")
    rec:flush()
  end
end
