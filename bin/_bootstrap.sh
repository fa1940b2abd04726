# Shared set-up for bin/run and bin/test: everything a fresh machine lacks, installed on first use.

ensure_python_env() {
  # uv from PyPI, into the Python that .python-version pins (3.12); then the locked environment:
  # `ensure_python_env app` (bin/run) installs the app's dependencies only; `ensure_python_env dev`
  # (bin/test) adds the dev group (pytest, Playwright, datasets, ruff). They share .venv: the app
  # sync is --inexact, so it leaves the dev group in place, and the dev sync already includes the
  # app, so running one after the other installs nothing twice and removes nothing.
  local what="${1:-app}" py sync_args
  py="$(command -v python3.12 || true)"
  if [ -z "$py" ] && [ -x "$HOME/.pyenv/versions/3.12.1/bin/python3.12" ]; then
    py="$HOME/.pyenv/versions/3.12.1/bin/python3.12"
  fi
  if [ -z "$py" ]; then py="$(command -v python3)"; fi
  # Resolve shims (pyenv) to the real interpreter: given a shim path, `uv sync` replaces .venv on
  # every run, which breaks every other process using it at that moment.
  py="$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$py")"
  if ! "$py" -m uv --version >/dev/null 2>&1; then
    "$py" -m pip install --quiet --disable-pip-version-check uv
  fi
  case "$what" in
    app) sync_args=(--no-dev --inexact) ;;
    dev) sync_args=() ;;
    *) echo "ensure_python_env: app or dev, not $what" >&2; return 2 ;;
  esac
  # One sync at a time: parallel runs would otherwise rebuild .venv under each other.
  (flock 9; "$py" -m uv sync --frozen --quiet "${sync_args[@]}" --python "$py") \
    9>"${TMPDIR:-/tmp}/annotate-uv-sync.lock"
  compile_messages
}

_apt_install() {
  # Debian packages a fresh machine lacks, as root or through sudo.
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

compile_messages() {
  # The translations (locale/*/LC_MESSAGES/*.po) compiled to the .mo files Django reads; the .mo
  # files are never committed. compilemessages skips catalogs already up to date, and needs
  # gettext's msgfmt. No database or secret is touched: the command only reads LOCALE_PATHS.
  command -v msgfmt >/dev/null 2>&1 || _apt_install gettext
  (flock 9; env -u DATABASE_URL SECRET_KEY="${SECRET_KEY:-compilemessages-only}" \
    .venv/bin/python manage.py compilemessages --ignore .venv --ignore node_modules -v 0) \
    9>"${TMPDIR:-/tmp}/annotate-compilemessages.lock"
}

ensure_chromium() {
  # Browser tests drive Debian's Chromium; Playwright's own browser download cannot work offline.
  if [ ! -x /usr/bin/chromium ]; then _apt_install chromium; fi
  # A CJK font for the Korean pages' screenshots (tests/i18n), from Debian, never a web font.
  if [ ! -d /usr/share/fonts/opentype/noto ] || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then
    _apt_install fonts-noto-cjk
  fi
}
