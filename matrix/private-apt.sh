# Sourced, not run: a private APT configuration (own lists, cache and an empty dpkg status) for
# downloading Debian packages of any architecture and suite without touching the host's sources or
# dpkg database. Used by matrix/kernel-matrix.sh and rseq-core/src/test/arm64/fetch-kernels.sh.
# The mirror is the one the host's APT already uses. On failure: exit 10 (registry unreachable).

apt_opts=()

apt_setup() { # apt_setup DIR DEBARCH SUITE...: a configuration in DIR with those suites; sets apt_opts
  local dir="$1" debarch="$2" mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg suite
  shift 2
  mirror="$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [ -n "$mirror" ] || mirror="$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$mirror" ] || { echo "private-apt: no Debian mirror in the host's APT sources" >&2; exit 10; }
  mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
  : > "$dir/status"
  : > "$dir/sources.list"
  for suite in "$@"; do
    # bookworm's suites are signed with the host's keyring; the newer suites' keys may be newer than it.
    case "$suite" in
      bookworm*) echo "deb [arch=$debarch signed-by=$keyring] $mirror $suite main" >> "$dir/sources.list" ;;
      *) echo "deb [arch=$debarch trusted=yes] $mirror $suite main" >> "$dir/sources.list" ;;
    esac
  done
  apt_opts=(-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
            -o "Dir::Cache=$dir" -o "Dir::Cache::archives=$dir/archives"
            -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/parts"
            -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch" -o "Debug::NoLocking=1"
            -o "APT::Sandbox::User=root" -o "APT::Install-Recommends=false" -q)
  # Package lists are refreshed at most once a day.
  if [ -z "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 -print -quit)" ]; then
    apt-get "${apt_opts[@]}" update >&2 || { echo "private-apt: the package registry could not be reached" >&2; exit 10; }
  fi
}

download() { # download DIR PACKAGE/SUITE...: .deb files into DIR, with the configuration of apt_setup
  local dir="$1"; shift
  (cd "$dir" && apt-get "${apt_opts[@]}" download "$@" >&2) || { echo "private-apt: download of $* failed" >&2; exit 10; }
}
