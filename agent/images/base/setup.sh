#!/bin/sh
# setup.sh runs as root inside the freshly debootstrapped rootfs (chroot),
# after rootfs/ has been copied over it and before it is imported.
set -eu

# The unprivileged user kernels run as (agents may still pick another uid).
groupadd --gid 1000 work
useradd --uid 1000 --gid 1000 --home-dir /home/work --create-home \
	--shell /bin/bash --comment "kernel user" work

# What the nodoc dpkg rules would have left out, had they been there earlier.
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/groff/* /usr/share/lintian/*
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# No caches, logs or host traces in the image.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
	/var/log/apt/* /var/log/dpkg.log /var/log/bootstrap.log /var/log/alternatives.log
: >/etc/machine-id
