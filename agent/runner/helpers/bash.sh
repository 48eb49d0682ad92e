# The bai-runner's bash REPL helper: reads "X <length>\n<code>" commands on
# fd 3, evals each in this shell (so variables, functions and the current
# directory persist) and reports "F <exit code>\n" on fd 4. A SIGINT returns
# from the running code with status 130; the shell survives.
__bai_run() {
	trap 'trap : INT; return 130' INT
	eval "$1"
}
trap : INT
while :; do
	IFS=' ' read -r __bai_kind __bai_len <&3 || exit 0
	__bai_code=
	if [ "${__bai_len:-0}" -gt 0 ]; then
		LC_ALL=C IFS= read -r -d '' -N "$__bai_len" __bai_code <&3 || exit 0
	fi
	case $__bai_kind in
	X)
		__bai_run "$__bai_code"
		__bai_st=$?
		trap : INT
		printf 'F %d\n' "$__bai_st" >&4
		;;
	C)
		__bai_word=${__bai_code##*[[:space:]]}
		compgen -A function -A builtin -A command -A variable -A file -- "$__bai_word" 2>/dev/null | head -n 100 |
			while IFS= read -r __bai_c; do printf '= %s\n' "$__bai_c"; done >&4
		printf 'c\n' >&4
		;;
	esac
done
