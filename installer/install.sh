#!/usr/bin/env bash
# Install Dowse for this user, without root: a private venv, a launcher, a menu entry, an icon.
#
# Everything it writes is listed in a manifest under the prefix, which --uninstall reads back.
# The index, settings and logs are the user's: --uninstall keeps them unless --purge-data.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: install.sh [--prefix DIR] [--cpu | --cuda] [--autostart] [--wheels DIR]
                  [--source PATH] [--python PYTHON] [--torch-index URL]
       install.sh --uninstall [--purge-data] [--prefix DIR]

Installs Dowse for the current user (no root needed):
  app         a private virtual environment under the prefix
              (default: ${XDG_DATA_HOME:-~/.local/share}/dowse/app)
  launcher    ~/.local/bin/dowse
  menu entry  ~/.local/share/applications/dowse.desktop, with its icon
  autostart   ~/.config/autostart/dowse.desktop, only with --autostart

Options:
  --cpu             install the CPU-only build of torch 2.13.0 (about 200 MB)
  --cuda            install a CUDA build of torch 2.13.0 (GBs); needs an NVIDIA driver
                    (nvidia-smi). Default: --cuda when nvidia-smi finds a GPU, else --cpu
  --autostart       start Dowse at login
  --wheels DIR      install offline: every package from the wheels in DIR (pip --no-index)
  --source PATH     a Dowse source tree or a built dowse-*.whl (default: the tree holding
                    this script)
  --python PYTHON   the Python (3.11 or later) to build the venv with (default: python3)
  --torch-index URL where torch's builds come from, tried besides pip's own indexes
                    (default: the PyTorch index for the chosen build; '' for none)
  --uninstall       remove everything the install wrote, read from its manifest
  --purge-data      with --uninstall: also delete the index, settings and logs
  --verbose         show pip's own output
EOF
}

readonly TORCH_VERSION=2.13.0
readonly TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
readonly TORCH_CUDA_INDEX=https://download.pytorch.org/whl/cu128
readonly MANIFEST_NAME=manifest.txt
readonly LAUNCHER_MARK="# Dowse launcher, written by install.sh"

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
state_home=${XDG_STATE_HOME:-$HOME/.local/state}
cache_home=${XDG_CACHE_HOME:-$HOME/.cache}
bin_dir=$HOME/.local/bin
launcher=$bin_dir/dowse
desktop_file=$data_home/applications/dowse.desktop
icon_file=$data_home/icons/hicolor/scalable/apps/dowse.svg
# The same name as the app's own "Start at login" setting (desktop/settings_dialog.py).
autostart_file=$config_home/autostart/dowse.desktop

# A copy of this script is kept in the prefix; run from there it uninstalls its own prefix.
if [[ -f $script_dir/$MANIFEST_NAME ]]; then
    prefix=$script_dir
else
    prefix=$data_home/dowse/app
fi
build=auto
autostart=0
wheels=""
source_path=""
python=python3
torch_index=""
torch_index_given=0
torch_found=""
action=install
purge=0
installing=0
workdir=""
pip_quiet=(--quiet)

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
    warn "$*"
    exit 2
}

absolute() { # an absolute path without requiring it to exist
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}

parse_args() {
    while (($#)); do
        case $1 in
            --prefix) prefix=$(absolute "${2:?--prefix needs a folder}"); shift ;;
            --cpu) build=cpu ;;
            --cuda) build=cuda ;;
            --autostart) autostart=1 ;;
            --wheels) wheels=$(absolute "${2:?--wheels needs a folder}"); shift ;;
            --source) source_path=$(absolute "${2:?--source needs a path}"); shift ;;
            --python) python=${2:?--python needs a program}; shift ;;
            --torch-index) torch_index=${2?--torch-index needs a URL}; torch_index_given=1; shift ;;
            --uninstall) action=uninstall ;;
            --purge-data) purge=1 ;;
            --verbose) pip_quiet=() ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
    if ((purge)) && [[ $action != uninstall ]]; then
        die "--purge-data goes with --uninstall"
    fi
    if [[ $prefix == *$'\n'* || $prefix == *$'\t'* ]]; then
        die "the prefix must not contain a newline or a tab"
    fi
}

# -- the manifest: one "KIND<TAB>PATH" line per thing written ---------------------------------
# file: removed; tree: removed with all it holds (only inside the prefix);
# dir: a folder the install created, removed when empty.

manifest() { printf '%s\n' "$prefix/$MANIFEST_NAME"; }

record() { printf '%s\t%s\n' "$1" "$2" >>"$(manifest)"; }

make_dir() { # mkdir -p that records every folder it creates
    local dir=$1 missing=()
    while [[ ! -e $dir ]]; do
        missing=("$dir" "${missing[@]}")
        dir=$(dirname "$dir")
    done
    [[ -d $dir ]] || die "$dir is not a folder"
    for dir in "${missing[@]}"; do
        mkdir -m "${2:-755}" "$dir"
        record dir "$dir"
    done
}

install_file() { # install_file SOURCE TARGET MODE: copy and record
    make_dir "$(dirname "$2")"
    install -m "$3" "$1" "$2"
    record file "$2"
}

remove_install() {
    local kind path dirs=()
    while IFS=$'\t' read -r kind path; do
        case $kind in
            file) rm -f -- "$path" ;;
            tree)
                [[ $path == "$prefix"/* ]] || die "refusing to remove $path: outside $prefix"
                rm -rf -- "$path"
                ;;
            dir) dirs=("$path" "${dirs[@]}") ;; # deepest (created last) first
            '' | '#'*) ;;
            *) warn "manifest: skipping unknown entry '$kind'" ;;
        esac
    done <"$(manifest)"
    rm -f -- "$(manifest)" "$prefix/install.sh"
    local dir
    for dir in "${dirs[@]}"; do
        rmdir -- "$dir" 2>/dev/null || true # kept when it holds anything else (the index)
    done
}

# -- install ----------------------------------------------------------------------------------

has_nvidia_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}

choose_build() {
    case $build in
        cuda) has_nvidia_gpu || die "--cuda: no NVIDIA driver found (nvidia-smi -L failed). \
Install the NVIDIA driver first, or use --cpu." ;;
        auto) if has_nvidia_gpu; then build=cuda; else build=cpu; fi ;;
    esac
    if ((!torch_index_given)); then
        if [[ $build == cuda ]]; then torch_index=$TORCH_CUDA_INDEX; else torch_index=$TORCH_CPU_INDEX; fi
    fi
}

check_python() {
    command -v "$python" >/dev/null 2>&1 || die "no $python found; install Python 3.11 or later"
    "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
        die "$python is not Python 3.11 or later with the venv module (Debian/Ubuntu: \
sudo apt install python3-venv)"
}

check_targets() {
    if [[ -e $launcher ]] && ! grep -qF "$LAUNCHER_MARK" "$launcher"; then
        die "$launcher exists and is not Dowse's launcher; move it away first"
    fi
    if [[ -f $(manifest) ]]; then
        say "Dowse is already installed in $prefix: replacing that install (your data stays)."
        stop_engine
        remove_install
    elif [[ -e $prefix ]] && [[ -n $(ls -A "$prefix") ]]; then
        die "$prefix exists, holds files and no Dowse manifest; choose another --prefix"
    fi
}

resolve_source() {
    if [[ -z $source_path ]]; then
        source_path=$(dirname "$script_dir")
    fi
    if [[ -f $source_path && $source_path == *.whl ]]; then
        resources=$(dirname "$script_dir")/resources # the wheel has none; see install_resources
    elif [[ -f $source_path/pyproject.toml ]]; then
        resources=$source_path/resources
    else
        die "--source: $source_path is neither a Dowse source tree nor a .whl"
    fi
    [[ -f $resources/dowse.desktop && -f $resources/icons/dowse.svg ]] ||
        die "no Dowse resources at $resources (dowse.desktop and icons/dowse.svg)"
}

pip_install() {
    local offline=()
    if [[ -n $wheels ]]; then offline=(--no-index --find-links "$wheels"); fi
    "$venv/bin/python" -m pip --disable-pip-version-check --no-input install \
        "${pip_quiet[@]}" "${offline[@]}" "$@"
}

install_python_packages() {
    venv=$prefix/venv
    say "Creating the app's Python environment in $venv"
    record tree "$venv"
    "$python" -m venv "$venv"
    local extra=()
    if [[ -z $wheels && -n $torch_index ]]; then
        if index_reachable "$torch_index"; then
            extra=(--extra-index-url "$torch_index")
        else
            warn "cannot reach $torch_index; taking torch from pip's own indexes"
        fi
    fi
    # torch first and pinned: Dowse's own 'torch>=2.1' would otherwise let pip pick a build.
    torch_found=$(resolve_torch "${extra[@]}")
    if [[ $build == cpu && $torch_found != *+cpu ]]; then
        die "pip would install torch $torch_found, not the CPU-only build $TORCH_VERSION+cpu, and \
that one pulls gigabytes of CUDA libraries. Make the CPU build reachable with \
--torch-index URL (default $TORCH_CPU_INDEX) or --wheels DIR."
    fi
    say "Installing torch $torch_found ($build build)"
    pip_install "${extra[@]}" "torch==$torch_found"
    local target=$source_path
    if [[ -d $source_path ]]; then
        # Build from a clean copy: setuptools' build/ folder in the tree could hold stale files.
        target=$workdir/src
        mkdir "$target"
        tar -C "$source_path" --exclude=./.git --exclude=./.venv --exclude=./build \
            --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ -cf - . |
            tar -C "$target" -xf -
    fi
    say "Installing Dowse and its libraries"
    pip_install "$target"
    check_torch_build
}

index_reachable() {
    # pip retries an unreachable index five times for torch and for each of its dependencies:
    # minutes of waiting. One connection decides instead (behind a proxy, pip's own try does).
    if [[ -n ${https_proxy:-}${HTTPS_PROXY:-} || $1 != http* ]]; then return 0; fi
    "$venv/bin/python" -c 'import socket, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
port = url.port or (443 if url.scheme == "https" else 80)
socket.create_connection((url.hostname, port), timeout=10).close()' "$1" 2>/dev/null
}

resolve_torch() { # the torch build pip would install, e.g. 2.13.0+cpu, downloading nothing
    local report=$workdir/torch.json
    pip_install --dry-run --no-deps --ignore-installed --report "$report" "$@" \
        "torch==$TORCH_VERSION" >/dev/null
    "$venv/bin/python" -c 'import json, sys
print(json.load(open(sys.argv[1]))["install"][0]["metadata"]["version"])' "$report"
}

check_torch_build() {
    local cuda
    cuda=$("$venv/bin/python" -c 'import torch; print(torch.version.cuda or "")')
    if [[ $build == cuda && -z $cuda ]]; then
        die "asked for CUDA but pip installed a CPU-only torch; pass --torch-index URL"
    fi
}

install_resources() {
    # desktop/ reads resources/ beside its package (desktop/icons.py, settings_dialog.py), and
    # the dowse wheel does not ship that folder yet, so it goes into site-packages.
    local site
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    if [[ ! -d $site/resources ]]; then
        cp -r "$resources" "$site/resources"
    fi
}

desktop_exec() { # the launcher as a desktop-entry Exec= argument
    case $launcher in
        *[\"\`\$\\%]* | *$'\n'*) die "cannot name $launcher in a desktop entry" ;;
        *[[:space:]\'\>\<\~\|\&\;\*\?\#\(\)]*) printf '"%s"\n' "$launcher" ;;
        *) printf '%s\n' "$launcher" ;;
    esac
}

write_desktop_entry() { # write_desktop_entry TARGET [EXTRA_LINE]
    local tmp=$workdir/entry.desktop line exec
    exec=$(desktop_exec)
    : >"$tmp"
    while IFS= read -r line || [[ -n $line ]]; do
        case $line in
            Exec=*) printf 'Exec=%s gui\nTryExec=%s\n' "$exec" "$launcher" ;;
            Icon=*) printf 'Icon=%s\n' "$icon_file" ;;
            TryExec=*) ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$resources/dowse.desktop" >>"$tmp"
    if [[ -n ${2:-} ]]; then printf '%s\n' "$2" >>"$tmp"; fi
    install_file "$tmp" "$1" 644
}

install_launcher() {
    local tmp=$workdir/launcher
    {
        printf '#!/usr/bin/env bash\n%s; install.sh --uninstall removes it.\n' "$LAUNCHER_MARK"
        printf 'exec %q "$@"\n' "$venv/bin/dowse"
    } >"$tmp"
    install_file "$tmp" "$launcher" 755
}

install_desktop_files() {
    install_launcher
    install_file "$resources/icons/dowse.svg" "$icon_file" 644
    write_desktop_entry "$desktop_file"
    if ((autostart)); then
        write_desktop_entry "$autostart_file" "X-GNOME-Autostart-enabled=true"
    fi
    install_file "$script_dir/install.sh" "$prefix/install.sh" 755
}

report_install() {
    local version problems
    version=$("$launcher" --version)
    say ""
    say "Installed $version (torch $torch_found, $build build):"
    say "  app         $prefix"
    say "  launcher    $launcher"
    say "  menu entry  $desktop_file"
    say "  icon        $icon_file"
    if ((autostart)); then
        say "  autostart   $autostart_file"
    else
        say "  autostart   off (Settings > Start at login turns it on)"
    fi
    say "  manifest    $(manifest)"
    if ! problems=$("$launcher" doctor 2>&1); then
        say ""
        say "dowse doctor found problems:"
        say "$problems"
    fi
    if ! command -v tesseract >/dev/null 2>&1; then
        # A system package, so not something a per-user install can bring (engine/extract/ocr.py).
        say ""
        say "Images and scanned PDFs are not read until Tesseract is installed (OCR):"
        say "  Debian/Ubuntu: sudo apt-get install tesseract-ocr   Fedora: sudo dnf install tesseract"
    fi
    say ""
    say "Start Dowse from your desktop's application menu, or run: dowse gui"
    case ":$PATH:" in
        *":$bin_dir:"*) ;;
        *) say "($bin_dir is not on your PATH: add it, or run $launcher gui)" ;;
    esac
    say "Check the install: dowse doctor. Uninstall: $prefix/install.sh --uninstall"
}

on_exit() {
    local status=$?
    if ((status != 0 && installing)) && [[ -f $(manifest) ]]; then
        warn "the install failed; removing what it had installed"
        remove_install || true
    fi
    if [[ -n $workdir ]]; then rm -rf -- "$workdir"; fi
}

run_install() {
    choose_build
    check_python
    resolve_source
    check_targets
    workdir=$(mktemp -d)
    installing=1
    # The prefix's own parents are created before the manifest exists to hold them.
    local missing=() dir=$prefix
    while [[ ! -e $dir ]]; do
        missing=("$dir" "${missing[@]}")
        dir=$(dirname "$dir")
    done
    for dir in "${missing[@]}"; do mkdir -m 700 "$dir"; done
    printf '# Dowse install manifest: KIND<TAB>PATH (file, tree, dir)\n' >"$(manifest)"
    for dir in "${missing[@]}"; do record dir "$dir"; done
    install_python_packages
    install_resources
    install_desktop_files
    installing=0
    report_install
}

# -- uninstall --------------------------------------------------------------------------------

stop_engine() {
    # An engine started from this install would keep running from deleted files.
    local info=$data_home/dowse/engine.json pid
    [[ -f $info ]] || return 0
    pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$info")
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$prefix/"; then
        say "Stopping the running Dowse engine (pid $pid)"
        kill "$pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
            sleep 0.1
            waited=$((waited + 1))
        done
    fi
}

purge_data() {
    local path
    for path in "$data_home/dowse" "$config_home/dowse" "$config_home/Dowse" \
        "$state_home/dowse" "$cache_home/dowse"; do
        if [[ -e $path ]]; then
            rm -rf -- "$path"
            say "Deleted $path"
        fi
    done
    if [[ -n ${DOWSE_DATA_DIR:-} ]]; then
        say "Left DOWSE_DATA_DIR=$DOWSE_DATA_DIR alone: delete it yourself if you mean to."
    fi
}

run_uninstall() {
    if [[ -f $(manifest) ]]; then
        stop_engine
        remove_install
        say "Removed Dowse from $prefix, with its launcher, menu entry and icon."
    else
        say "No Dowse install in $prefix (no $MANIFEST_NAME there)."
    fi
    # Written by the app's own "Start at login" setting, so in no manifest.
    if [[ -f $autostart_file ]] && grep -q '^Exec=.*dowse' "$autostart_file"; then
        rm -f -- "$autostart_file"
        say "Removed $autostart_file"
    fi
    if ((purge)); then
        purge_data
    else
        say "Kept your index and settings in $data_home/dowse (--purge-data deletes them)."
    fi
}

main() {
    parse_args "$@"
    trap on_exit EXIT
    if [[ $action == uninstall ]]; then run_uninstall; else run_install; fi
}

main "$@"
