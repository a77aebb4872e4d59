# bash completion for samplemind                                         -*- shell-script -*-
# Generated from the command line (samplemind/clidocs.py): do not edit; run `python scripts/generate_cli_docs.py`.
# Static tables: completing never starts Python. Needs bash 4.

# _samplemind_command PATH: set commands, options, args (a kind per argument) and rest (the kind of a
# variadic argument) for the command at PATH (sub-command names joined by spaces; '' is samplemind).
_samplemind_command() {
    commands= options= rest=
    args=()
    case $1 in
        '')
            commands='cache collection completion demo describe doctor dupes export fav index ls man map play review scan serve set show similar stats suggest tag tags token user watch'
            options='--help --home --traceback --version -h'
            ;;
        'cache')
            commands='clear stats'
            options='--help -h'
            ;;
        'cache clear')
            options='--help -h'
            ;;
        'cache stats')
            options='--format --help -f -h'
            ;;
        'collection')
            commands='ls rm save'
            options='--help -h'
            ;;
        'collection ls')
            options='--format --help -f -h'
            ;;
        'collection rm')
            options='--help -h'
            args=('')
            ;;
        'collection save')
            options='--help -h'
            args=('' '')
            ;;
        'completion')
            options='--help -h'
            args=('choice bash zsh fish')
            ;;
        'demo')
            options='--format --help --jobs -f -h -j'
            args=('dir')
            ;;
        'describe')
            options='--concurrency --format --help --jobs --model --refresh --timeout -f -h -j -m'
            rest='file'
            ;;
        'doctor')
            options='--format --help --model --require-ai -f -h -m'
            ;;
        'dupes')
            options='--delete --exact-only --format --help --move-to --near-only --threshold --undo --yes -f -h -t -y'
            args=('')
            ;;
        'export')
            options='--as --copy --force --format --help --link --pattern --round-robin --to --zip -f -h -p'
            args=('')
            ;;
        'fav')
            commands='add ls rm'
            options='--help -h'
            ;;
        'fav add')
            options='--account --also --help -h'
            args=('file')
            ;;
        'fav ls')
            options='--account --format --help -f -h'
            ;;
        'fav rm')
            options='--account --also --help -h'
            args=('file')
            ;;
        'index')
            commands='rebuild status'
            options='--help -h'
            ;;
        'index rebuild')
            options='--format --help -f -h'
            ;;
        'index status')
            options='--format --help -f -h'
            ;;
        'ls')
            options='--ask --bpm --category --format --help --key --limit --min-confidence --model --no-model --type -c -f -h -m -n'
            args=('')
            ;;
        'man')
            options='--help -h'
            ;;
        'map')
            options='--format --help -f -h'
            ;;
        'play')
            options='--help --limit --player -h -n'
            args=('file')
            ;;
        'review')
            options='--count --format --help --player --reviewer -f -h -n'
            args=('')
            ;;
        'scan')
            options='--cluster --format --help --jobs --path-map --retry-failed --ship-bytes --timeout -f -h -j'
            rest='file'
            ;;
        'serve')
            options='--allow-delete --allow-host --allow-origin --get --help --host --insecure --max-upload-mb --port --record-cache-mb --scan-root --upload-dir -h -p'
            ;;
        'set')
            options='--format --help -f -h'
            args=('file')
            rest=''
            ;;
        'show')
            options='--format --help -f -h'
            args=('file')
            ;;
        'similar')
            options='--aspect --category --count --format --help --query --type -a -c -f -h -k -q'
            rest='file'
            ;;
        'stats')
            options='--format --help -f -h'
            ;;
        'suggest')
            options='--apply --format --help --threshold -f -h -k -t'
            args=('')
            ;;
        'tag')
            commands='add rm'
            options='--help -h'
            ;;
        'tag add')
            options='--also --help -h'
            args=('file')
            rest=''
            ;;
        'tag rm')
            options='--also --help -h'
            args=('file')
            rest=''
            ;;
        'tags')
            options='--format --help -f -h'
            ;;
        'token')
            commands='add ls rm'
            options='--help -h'
            ;;
        'token add')
            options='--help --role -h -r'
            args=('')
            ;;
        'token ls')
            options='--format --help -f -h'
            ;;
        'token rm')
            options='--help -h'
            args=('')
            ;;
        'user')
            commands='add ls passwd rm role'
            options='--help -h'
            ;;
        'user add')
            options='--help --password-stdin --role -h -r'
            args=('')
            ;;
        'user ls')
            options='--format --help -f -h'
            ;;
        'user passwd')
            options='--help --password-stdin -h'
            args=('')
            ;;
        'user rm')
            options='--help -h'
            args=('')
            ;;
        'user role')
            options='--help -h'
            args=('' 'choice viewer editor admin')
            ;;
        'watch')
            options='--format --help --jobs --max-wait --poll --settle --timeout -f -h -j'
            rest='file'
            ;;
    esac
}

# _samplemind_option PATH OPTION: set nvals (words the option reads) and kind (how to complete them).
_samplemind_option() {
    nvals=0 kind=
    case "$1:$2" in
        ':--home') nvals=1 kind='dir' ;;
        'cache stats:-f'|'cache stats:--format') nvals=1 kind='choice table json jsonl' ;;
        'collection ls:-f'|'collection ls:--format') nvals=1 kind='choice table json jsonl csv' ;;
        'demo:-j'|'demo:--jobs') nvals=1 kind='' ;;
        'demo:-f'|'demo:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'describe:-m'|'describe:--model') nvals=1 kind='' ;;
        'describe:-j'|'describe:--concurrency'|'describe:--jobs') nvals=1 kind='' ;;
        'describe:--timeout') nvals=1 kind='' ;;
        'describe:-f'|'describe:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'doctor:-m'|'doctor:--model') nvals=1 kind='' ;;
        'doctor:-f'|'doctor:--format') nvals=1 kind='choice table json jsonl' ;;
        'dupes:-t'|'dupes:--threshold') nvals=1 kind='' ;;
        'dupes:--move-to') nvals=1 kind='dir' ;;
        'dupes:--undo') nvals=1 kind='' ;;
        'dupes:-f'|'dupes:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'export:--to') nvals=1 kind='dir' ;;
        'export:-p'|'export:--pattern') nvals=1 kind='' ;;
        'export:--zip') nvals=1 kind='file' ;;
        'export:--as') nvals=1 kind='' ;;
        'export:-f'|'export:--format') nvals=1 kind='choice json jsonl' ;;
        'fav add:--also') nvals=1 kind='file' ;;
        'fav add:--account') nvals=1 kind='' ;;
        'fav ls:--account') nvals=1 kind='' ;;
        'fav ls:-f'|'fav ls:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'fav rm:--also') nvals=1 kind='file' ;;
        'fav rm:--account') nvals=1 kind='' ;;
        'index rebuild:-f'|'index rebuild:--format') nvals=1 kind='choice table json jsonl' ;;
        'index status:-f'|'index status:--format') nvals=1 kind='choice table json jsonl' ;;
        'ls:--type') nvals=1 kind='choice loop oneshot' ;;
        'ls:-c'|'ls:--category') nvals=1 kind='' ;;
        'ls:--bpm') nvals=1 kind='' ;;
        'ls:--key') nvals=1 kind='' ;;
        'ls:-n'|'ls:--limit') nvals=1 kind='' ;;
        'ls:--ask') nvals=1 kind='' ;;
        'ls:-m'|'ls:--model') nvals=1 kind='' ;;
        'ls:--min-confidence') nvals=1 kind='' ;;
        'ls:-f'|'ls:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'map:-f'|'map:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'play:--player') nvals=1 kind='' ;;
        'play:-n'|'play:--limit') nvals=1 kind='' ;;
        'review:-f'|'review:--format') nvals=1 kind='choice json jsonl' ;;
        'review:-n'|'review:--count') nvals=1 kind='' ;;
        'review:--reviewer') nvals=1 kind='' ;;
        'review:--player') nvals=1 kind='' ;;
        'scan:-j'|'scan:--jobs') nvals=1 kind='' ;;
        'scan:--timeout') nvals=1 kind='' ;;
        'scan:-f'|'scan:--format') nvals=1 kind='choice json jsonl' ;;
        'scan:--cluster') nvals=1 kind='' ;;
        'scan:--path-map') nvals=1 kind='' ;;
        'serve:--host') nvals=1 kind='' ;;
        'serve:-p'|'serve:--port') nvals=1 kind='' ;;
        'serve:--allow-host') nvals=1 kind='' ;;
        'serve:--allow-origin') nvals=1 kind='' ;;
        'serve:--upload-dir') nvals=1 kind='dir' ;;
        'serve:--max-upload-mb') nvals=1 kind='' ;;
        'serve:--scan-root') nvals=1 kind='dir' ;;
        'serve:--record-cache-mb') nvals=1 kind='' ;;
        'serve:--get') nvals=1 kind='file' ;;
        'set:-f'|'set:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'show:-f'|'show:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'similar:-k'|'similar:--count') nvals=1 kind='' ;;
        'similar:-a'|'similar:--aspect') nvals=1 kind='' ;;
        'similar:--type') nvals=1 kind='choice loop oneshot' ;;
        'similar:-c'|'similar:--category') nvals=1 kind='' ;;
        'similar:-q'|'similar:--query') nvals=1 kind='' ;;
        'similar:-f'|'similar:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'stats:-f'|'stats:--format') nvals=1 kind='choice table json jsonl' ;;
        'suggest:-k') nvals=1 kind='' ;;
        'suggest:-t'|'suggest:--threshold') nvals=1 kind='' ;;
        'suggest:-f'|'suggest:--format') nvals=1 kind='choice table json jsonl csv paths' ;;
        'tag add:--also') nvals=1 kind='file' ;;
        'tag rm:--also') nvals=1 kind='file' ;;
        'tags:-f'|'tags:--format') nvals=1 kind='choice table json jsonl csv' ;;
        'token add:-r'|'token add:--role') nvals=1 kind='choice viewer editor admin' ;;
        'token ls:-f'|'token ls:--format') nvals=1 kind='choice table json jsonl csv' ;;
        'user add:-r'|'user add:--role') nvals=1 kind='choice viewer editor admin' ;;
        'user ls:-f'|'user ls:--format') nvals=1 kind='choice table json jsonl csv' ;;
        'watch:-j'|'watch:--jobs') nvals=1 kind='' ;;
        'watch:--timeout') nvals=1 kind='' ;;
        'watch:--settle') nvals=1 kind='' ;;
        'watch:--max-wait') nvals=1 kind='' ;;
        'watch:-f'|'watch:--format') nvals=1 kind='choice jsonl' ;;
    esac
}

# _samplemind_reply KIND WORD: complete WORD as KIND: "choice A B ...", file, dir or nothing.
_samplemind_reply() {
    case $1 in
        choice\ *) mapfile -t COMPREPLY < <(compgen -W "${1#choice }" -- "$2") ;;
        file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$2") ;;
        dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$2") ;;
    esac
}

_samplemind() {
    local cur=${COMP_WORDS[COMP_CWORD]} path= word i npos=0 pending=0 dashdash=0 last=
    local commands options rest nvals kind
    local -a args
    COMPREPLY=()
    # Walk the words before the cursor: descend into sub-commands, skip option values, count arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == = && $pending -gt 0 ]]; then
            continue  # bash splits --option=value at the '=' (COMP_WORDBREAKS)
        elif ((pending > 0)); then
            pending=$((pending - 1))
        elif [[ $dashdash == 0 && $word == -- ]]; then
            dashdash=1
        elif [[ $dashdash == 0 && $word == -?* ]]; then
            _samplemind_option "$path" "${word%%=*}"
            # Without '=' in COMP_WORDBREAKS, --option=value is one word and reads nothing more.
            [[ $word == *=* ]] || pending=$nvals
            last=${word%%=*}
        else
            _samplemind_command "$path"
            if [[ $dashdash == 0 && " $commands " == *" $word "* ]]; then
                path=${path:+$path }$word npos=0  # a sub-command: its own options and arguments follow
            else
                npos=$((npos + 1))
            fi
        fi
    done
    if ((pending > 0)); then  # the value of the option before the cursor
        [[ $cur == = ]] && cur=
        _samplemind_option "$path" "$last"
        _samplemind_reply "$kind" "$cur"
        return 0
    fi
    _samplemind_command "$path"
    if [[ $dashdash == 0 && $cur == --*=* ]]; then  # --option=value as one word: keep the prefix
        _samplemind_option "$path" "${cur%%=*}"
        _samplemind_reply "$kind" "${cur#*=}"
        COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
    elif [[ $dashdash == 0 && $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    elif [[ -n $commands ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    elif ((npos < ${#args[@]})); then
        _samplemind_reply "${args[npos]}" "$cur"
    elif [[ -n $rest ]]; then
        _samplemind_reply "$rest" "$cur"
    elif [[ $dashdash == 0 ]]; then  # no argument left to fill: offer the options
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    fi
    return 0
}

complete -F _samplemind samplemind
