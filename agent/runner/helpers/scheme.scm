;; The bai-runner's Guile REPL helper: reads "X <length>\n<code>" commands on
;; fd 3, evaluates each with eval-string in one environment (so definitions
;; persist) and reports "F <exit code>\n" on fd 4. A SIGINT throws
;; 'interrupted in the running code; the helper survives it.
(use-modules (ice-9 rdelim) (ice-9 binary-ports) (rnrs bytevectors))
(define bai-ctl (fdopen 3 "r"))
(set-port-encoding! bai-ctl "ISO-8859-1")
(define bai-rec (fdopen 4 "w"))
(setvbuf (current-output-port) 'none)
(setvbuf (current-error-port) 'none)
;; What Scheme code writes to the current output and error ports becomes
;; tagged records on fd 4, "O <len>\n<bytes>" / "E <len>\n<bytes>", so the
;; runner sees them in the order they were written.
(define (bai-send tag str)
  (let ((body (string->utf8 str)))
    (when (> (bytevector-length body) 0)
      (put-bytevector bai-rec
                      (string->utf8 (string-append tag " " (number->string (bytevector-length body)) "\n")))
      (put-bytevector bai-rec body)
      (force-output bai-rec))))
(define (bai-port tag)
  (let ((p (make-soft-port
            (vector (lambda (c) (bai-send tag (string c)))
                    (lambda (s) (bai-send tag s))
                    (lambda () #t)
                    #f
                    #f)
            "w")))
    (setvbuf p 'none)
    p))
(set-current-output-port (bai-port "O"))
(set-current-error-port (bai-port "E"))
(define bai-running #f)
(sigaction SIGINT (lambda (sig) (when bai-running (throw 'interrupted))))
(define bai-env (interaction-environment))
(let loop ()
  (let ((hdr (read-line bai-ctl)))
    (when (eof-object? hdr) (exit 0))
    (let* ((parts (string-split hdr #\space))
           (len (or (string->number (cadr parts)) 0))
           (code (if (> len 0)
                     (let ((bv (get-bytevector-n bai-ctl len)))
                       (if (eof-object? bv) (exit 0) (utf8->string bv)))
                     "")))
      (when (string=? (car parts) "X")
        (let ((status
               (catch #t
                 (lambda ()
                   (set! bai-running #t)
                   (eval-string code bai-env)
                   (set! bai-running #f)
                   0)
                 (lambda (key . args)
                   (set! bai-running #f)
                   (cond
                    ((eq? key 'quit)
                     ;; (exit n) in user code ends the run with n; the
                     ;; helper stays, as with the other languages.
                     (let ((v (if (pair? args) (car args) 0)))
                       (cond ((integer? v) v) ((eq? v #f) 1) (else 0))))
                    ((eq? key 'interrupted)
                       (begin (display "Interrupted\n" (current-error-port)) 130))
                    (else
                       (begin
                         (if (and (= (length args) 4) (string? (cadr args)))
                             (apply display-error #f (current-error-port) args)
                             (format (current-error-port) "~a: ~s\n" key args))
                         1)))))))
          (force-output (current-output-port))
          (force-output (current-error-port))
          (format bai-rec "F ~a\n" status)
          (force-output bai-rec)))
      (loop))))
