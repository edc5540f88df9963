#!/usr/bin/env bash
# Re-creates the third-party files of the web application (web/uplot.*) from the npm
# registry, at the pinned version. Their output is committed: the server and its tests
# need no npm. Run again only to upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."

UPLOT_VERSION=1.6.32
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "uplot@${UPLOT_VERSION}" --silent >/dev/null && tar xzf "uplot-${UPLOT_VERSION}.tgz")
cp "$work/package/dist/uPlot.iife.min.js" web/uplot.iife.min.js
cp "$work/package/dist/uPlot.min.css" web/uplot.min.css
cp "$work/package/LICENSE" web/uplot.LICENSE
echo "web/uplot.* from uplot ${UPLOT_VERSION}"
