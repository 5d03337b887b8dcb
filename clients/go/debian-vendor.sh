#!/bin/sh
# Builds vendor/ from Debian's Go source packages (/usr/share/gocode/src): one symlink per module that
# go.mod requires, and the vendor/modules.txt that makes `go build` use them (-mod=vendor, the default
# when vendor/ exists). Go reads no other module metadata in vendor mode, so the build is offline and
# needs neither a module proxy nor go.sum.
set -eu
cd "$(dirname "$0")"
GOCODE=${GOCODE:-/usr/share/gocode/src}
tmp=vendor.tmp
rm -rf "$tmp"
mkdir "$tmp"
# The `path version` pairs of go.mod's require blocks.
modules=$(sed -n '/^require (/,/^)/{s/^[[:space:]]*\([^[:space:](]\{1,\}\)[[:space:]]\{1,\}\(v[^[:space:]]*\).*/\1 \2/p}' go.mod)
[ -n "$modules" ] || { echo "debian-vendor.sh: no requirements found in go.mod" >&2; exit 1; }
echo "$modules" | while read -r path version; do
	if [ ! -d "$GOCODE/$path" ]; then
		echo "debian-vendor.sh: $GOCODE/$path is missing; run \`make go-toolchain\`" >&2
		exit 1
	fi
	mkdir -p "$tmp/$(dirname "$path")"
	ln -s "$GOCODE/$path" "$tmp/$path"
	printf '# %s %s\n## explicit\n' "$path" "$version" >>"$tmp/modules.txt"
done
rm -rf vendor
mv "$tmp" vendor
