# The bai-runner's R REPL helper: reads "X <length>\n<code>" commands on fd 3,
# evaluates each in the global environment, printing visible values like the
# R console, and reports "F <exit code>\n" on fd 4.
local({
  ctl <- file("/proc/self/fd/3", open = "rb")
  rec <- file("/proc/self/fd/4", open = "wb")
  repeat {
    hdr <- readLines(ctl, n = 1, warn = FALSE)
    if (length(hdr) == 0) quit(save = "no", status = 0)
    parts <- strsplit(hdr, " ", fixed = TRUE)[[1]]
    len <- as.integer(parts[2])
    code <- ""
    if (!is.na(len) && len > 0) {
      raw <- readBin(ctl, "raw", n = len)
      while (length(raw) < len) {
        more <- readBin(ctl, "raw", n = len - length(raw))
        if (length(more) == 0) quit(save = "no", status = 0)
        raw <- c(raw, more)
      }
      code <- rawToChar(raw)
      Encoding(code) <- "UTF-8"
    }
    if (parts[1] != "X") next
    status <- tryCatch({
      exprs <- parse(text = code, keep.source = FALSE)
      for (e in exprs) {
        v <- withVisible(eval(e, envir = globalenv()))
        if (v$visible) print(v$value)
      }
      0L
    }, interrupt = function(e) {
      cat("Interrupted\n", file = stderr())
      130L
    }, error = function(e) {
      cat("Error: ", conditionMessage(e), "\n", sep = "", file = stderr())
      1L
    })
    flush(stdout())
    flush(stderr())
    writeLines(paste("F", status), rec)
    flush(rec)
  }
})
