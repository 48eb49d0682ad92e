#!/usr/bin/env bash
# ensure-test-deps.sh installs, from Debian's packages, the real tools the
# integration tests drive when they are missing: Jupyter's kernel test suite,
# nbconvert and jupyter-server (Jupyter kernel and Kernel Gateway tests),
# php-cli (the PHP client's tests) and chromium (the web app's browser
# tests; they never download a browser). Node.js and npm come with the
# machine. It prints nothing when all is there and needs root (or sudo
# without a password) to install.
set -euo pipefail
pkgs=()
/usr/bin/python3 -c 'import jupyter_kernel_test' 2>/dev/null || pkgs+=(python3-jupyter-kernel-test python3-ipykernel)
command -v jupyter-nbconvert >/dev/null || pkgs+=(jupyter-nbconvert)
command -v jupyter-server >/dev/null || pkgs+=(jupyter-server)
/usr/bin/python3 -c 'import jupyter_client' 2>/dev/null || pkgs+=(python3-jupyter-client)
command -v php >/dev/null || pkgs+=(php-cli)
[ -x /usr/bin/chromium ] || pkgs+=(chromium)
[ ${#pkgs[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
echo "installing test tools: ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null; then
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null || {
		echo "ensure-test-deps: could not install ${pkgs[*]}; install them with apt-get as root" >&2
		exit 1
	}
fi
