# fish completion for samplemind.
# Generated from the command line (samplemind/clidocs.py): do not edit; run `python scripts/generate_cli_docs.py`.

# The sub-commands of the command at path $argv[1] (names joined by spaces; '' is samplemind).
function __samplemind_commands --argument-names path
    switch $path
        case ''
            printf '%s\n' 'cache' 'collection' 'completion' 'demo' 'describe' 'doctor' 'dupes' 'export' 'fav' 'index' 'ls' 'man' 'map' 'play' 'review' 'scan' 'serve' 'set' 'show' 'similar' 'stats' 'suggest' 'tag' 'tags' 'token' 'user' 'watch'
        case 'cache'
            printf '%s\n' 'clear' 'stats'
        case 'collection'
            printf '%s\n' 'ls' 'rm' 'save'
        case 'fav'
            printf '%s\n' 'add' 'ls' 'rm'
        case 'index'
            printf '%s\n' 'rebuild' 'status'
        case 'tag'
            printf '%s\n' 'add' 'rm'
        case 'token'
            printf '%s\n' 'add' 'ls' 'rm'
        case 'user'
            printf '%s\n' 'add' 'ls' 'passwd' 'rm' 'role'
    end
end

# How many words option $argv[2] of the command at path $argv[1] reads after it.
function __samplemind_nvals --argument-names path option
    switch "$path:$option"
        case ':--home'
            echo 1
        case 'cache stats:-f' 'cache stats:--format'
            echo 1
        case 'collection ls:-f' 'collection ls:--format'
            echo 1
        case 'demo:-j' 'demo:--jobs'
            echo 1
        case 'demo:-f' 'demo:--format'
            echo 1
        case 'describe:-m' 'describe:--model'
            echo 1
        case 'describe:-j' 'describe:--concurrency' 'describe:--jobs'
            echo 1
        case 'describe:--timeout'
            echo 1
        case 'describe:-f' 'describe:--format'
            echo 1
        case 'doctor:-m' 'doctor:--model'
            echo 1
        case 'doctor:-f' 'doctor:--format'
            echo 1
        case 'dupes:-t' 'dupes:--threshold'
            echo 1
        case 'dupes:--move-to'
            echo 1
        case 'dupes:--undo'
            echo 1
        case 'dupes:-f' 'dupes:--format'
            echo 1
        case 'export:--to'
            echo 1
        case 'export:-p' 'export:--pattern'
            echo 1
        case 'export:--zip'
            echo 1
        case 'export:--as'
            echo 1
        case 'export:-f' 'export:--format'
            echo 1
        case 'fav add:--also'
            echo 1
        case 'fav add:--account'
            echo 1
        case 'fav ls:--account'
            echo 1
        case 'fav ls:-f' 'fav ls:--format'
            echo 1
        case 'fav rm:--also'
            echo 1
        case 'fav rm:--account'
            echo 1
        case 'index rebuild:-f' 'index rebuild:--format'
            echo 1
        case 'index status:-f' 'index status:--format'
            echo 1
        case 'ls:--type'
            echo 1
        case 'ls:-c' 'ls:--category'
            echo 1
        case 'ls:--bpm'
            echo 1
        case 'ls:--key'
            echo 1
        case 'ls:-n' 'ls:--limit'
            echo 1
        case 'ls:--ask'
            echo 1
        case 'ls:-m' 'ls:--model'
            echo 1
        case 'ls:--min-confidence'
            echo 1
        case 'ls:-f' 'ls:--format'
            echo 1
        case 'map:-f' 'map:--format'
            echo 1
        case 'play:--player'
            echo 1
        case 'play:-n' 'play:--limit'
            echo 1
        case 'review:-f' 'review:--format'
            echo 1
        case 'review:-n' 'review:--count'
            echo 1
        case 'review:--reviewer'
            echo 1
        case 'review:--player'
            echo 1
        case 'scan:-j' 'scan:--jobs'
            echo 1
        case 'scan:--timeout'
            echo 1
        case 'scan:-f' 'scan:--format'
            echo 1
        case 'scan:--cluster'
            echo 1
        case 'scan:--path-map'
            echo 1
        case 'serve:--host'
            echo 1
        case 'serve:-p' 'serve:--port'
            echo 1
        case 'serve:--allow-host'
            echo 1
        case 'serve:--allow-origin'
            echo 1
        case 'serve:--upload-dir'
            echo 1
        case 'serve:--max-upload-mb'
            echo 1
        case 'serve:--scan-root'
            echo 1
        case 'serve:--record-cache-mb'
            echo 1
        case 'serve:--get'
            echo 1
        case 'set:-f' 'set:--format'
            echo 1
        case 'show:-f' 'show:--format'
            echo 1
        case 'similar:-k' 'similar:--count'
            echo 1
        case 'similar:-a' 'similar:--aspect'
            echo 1
        case 'similar:--type'
            echo 1
        case 'similar:-c' 'similar:--category'
            echo 1
        case 'similar:-q' 'similar:--query'
            echo 1
        case 'similar:-f' 'similar:--format'
            echo 1
        case 'stats:-f' 'stats:--format'
            echo 1
        case 'suggest:-k'
            echo 1
        case 'suggest:-t' 'suggest:--threshold'
            echo 1
        case 'suggest:-f' 'suggest:--format'
            echo 1
        case 'tag add:--also'
            echo 1
        case 'tag rm:--also'
            echo 1
        case 'tags:-f' 'tags:--format'
            echo 1
        case 'token add:-r' 'token add:--role'
            echo 1
        case 'token ls:-f' 'token ls:--format'
            echo 1
        case 'user add:-r' 'user add:--role'
            echo 1
        case 'user ls:-f' 'user ls:--format'
            echo 1
        case 'watch:-j' 'watch:--jobs'
            echo 1
        case 'watch:--timeout'
            echo 1
        case 'watch:--settle'
            echo 1
        case 'watch:--max-wait'
            echo 1
        case 'watch:-f' 'watch:--format'
            echo 1
        case '*'
            echo 0
    end
end

# The sub-command path typed so far, skipping options and their values.
function __samplemind_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for token in $tokens
        if test $skip -gt 0
            set skip (math $skip - 1)
        else if string match -q -- '-*' $token
            # --option=value carries its value; other options read theirs from the next words
            string match -q -- '--*=*' $token; or set skip (__samplemind_nvals "$path" $token)
        else if contains -- $token (__samplemind_commands "$path")
            set -a path $token
        end
    end
    echo "$path"
end

# Whether the sub-command path typed so far is exactly $argv.
function __samplemind_using
    set -l path (__samplemind_path)
    test "$path" = "$argv"
end

# No file names unless a rule below asks for them.
complete -c samplemind -f

# samplemind
complete -c samplemind -n '__samplemind_using' -a 'cache' -d 'Inspect or clear the feature and AI answer caches.'
complete -c samplemind -n '__samplemind_using' -a 'collection' -d 'Saved queries, used as @NAME.'
complete -c samplemind -n '__samplemind_using' -a 'completion' -d 'Print the completion script for a shell.'
complete -c samplemind -n '__samplemind_using' -a 'demo' -d 'Write a small generated sample pack, scan it and list it.'
complete -c samplemind -n '__samplemind_using' -a 'describe' -d 'Describe and tag samples with a local model (Ollama).'
complete -c samplemind -n '__samplemind_using' -a 'doctor' -d 'Check the catalog, caches, index and Ollama.'
complete -c samplemind -n '__samplemind_using' -a 'dupes' -d 'Exact and near duplicate groups, each with a suggested keeper; changes nothing unless --move-to or --delete is given.'
complete -c samplemind -n '__samplemind_using' -a 'export' -d 'Copy, link or zip the samples a query selects into a kit, with a JSON manifest.'
complete -c samplemind -n '__samplemind_using' -a 'fav' -d 'Star samples: favourites, kept per account (query: fav:NAME).'
complete -c samplemind -n '__samplemind_using' -a 'index' -d 'Inspect or rebuild the similarity index.'
complete -c samplemind -n '__samplemind_using' -a 'ls' -d 'List samples matching a query (every sample without one), streamed.'
complete -c samplemind -n '__samplemind_using' -a 'man' -d 'Print the man page (roff).'
complete -c samplemind -n '__samplemind_using' -a 'map' -d '2D coordinates of every sample by sound (PCA of the sound vectors), for plotting.'
complete -c samplemind -n '__samplemind_using' -a 'play' -d 'Play a sample through the system\'s audio player.'
complete -c samplemind -n '__samplemind_using' -a 'review' -d 'Answer the questions that teach the library most (keys: 1-9 choose, Enter accepts the guess, s skip, p play, u undo, q quit).'
complete -c samplemind -n '__samplemind_using' -a 'scan' -d 'Add or update folders in the catalog (incremental; exit 3 if some files failed).'
complete -c samplemind -n '__samplemind_using' -a 'serve' -d 'Serve the web UI and the HTTP and WebSocket API (loopback by default; accounts for anything else); prints their addresses.'
complete -c samplemind -n '__samplemind_using' -a 'set' -d 'Correct bpm, key, chord, note, type or category; kept through rescans (source "user").'
complete -c samplemind -n '__samplemind_using' -a 'show' -d 'Show one sample with every field.'
complete -c samplemind -n '__samplemind_using' -a 'similar' -d 'Samples that sound like the given ones, nearest first, with per-aspect distances.'
complete -c samplemind -n '__samplemind_using' -a 'stats' -d 'Library figures: counts by type, category and format; size; roots.'
complete -c samplemind -n '__samplemind_using' -a 'suggest' -d 'Tags for untagged samples, learned from the tags you gave their nearest neighbours. Shows them; writes only with --apply.'
complete -c samplemind -n '__samplemind_using' -a 'tag' -d 'Add or remove tags.'
complete -c samplemind -n '__samplemind_using' -a 'tags' -d 'Every tag with how many samples carry it.'
complete -c samplemind -n '__samplemind_using' -a 'token' -d 'API tokens for scripts (sent as Authorization: Bearer TOKEN).'
complete -c samplemind -n '__samplemind_using' -a 'user' -d 'Server accounts: add, remove, list, change password or role.'
complete -c samplemind -n '__samplemind_using' -a 'watch' -d 'Keep the catalog current as files are added, changed, moved or removed (Ctrl-C stops).'
complete -c samplemind -n '__samplemind_using' -l 'home' -r -F -d 'Folder holding the catalog, cache and index (default: platform folders).'
complete -c samplemind -n '__samplemind_using' -l 'traceback' -d 'Show the full Python traceback on errors.'
complete -c samplemind -n '__samplemind_using' -l 'version' -d 'Print the version and exit.'
complete -c samplemind -n '__samplemind_using' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind cache
complete -c samplemind -n '__samplemind_using cache' -a 'clear' -d 'Remove every cached analysis and AI answer (the catalog is kept).'
complete -c samplemind -n '__samplemind_using cache' -a 'stats' -d 'Entries, size, hits and misses of the feature cache and of cached AI answers.'
complete -c samplemind -n '__samplemind_using cache' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind cache clear
complete -c samplemind -n '__samplemind_using cache clear' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind cache stats
complete -c samplemind -n '__samplemind_using cache stats' -s 'f' -l 'format' -x -a 'table json jsonl' -d 'Output format: table, json or jsonl.'
complete -c samplemind -n '__samplemind_using cache stats' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind collection
complete -c samplemind -n '__samplemind_using collection' -a 'ls' -d 'List saved collections.'
complete -c samplemind -n '__samplemind_using collection' -a 'rm' -d 'Forget a saved collection (its samples are untouched).'
complete -c samplemind -n '__samplemind_using collection' -a 'save' -d 'Save a query under a name (replaces one of the same name).'
complete -c samplemind -n '__samplemind_using collection' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind collection ls
complete -c samplemind -n '__samplemind_using collection ls' -s 'f' -l 'format' -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv.'
complete -c samplemind -n '__samplemind_using collection ls' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind collection rm
complete -c samplemind -n '__samplemind_using collection rm' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind collection save
complete -c samplemind -n '__samplemind_using collection save' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind completion
complete -c samplemind -n '__samplemind_using completion' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using completion' -a 'bash zsh fish' -d 'bash, zsh or fish.'

# samplemind demo
complete -c samplemind -n '__samplemind_using demo' -s 'j' -l 'jobs' -x -d 'Worker processes for analysis (default: the core count).'
complete -c samplemind -n '__samplemind_using demo' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using demo' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using demo' -F

# samplemind describe
complete -c samplemind -n '__samplemind_using describe' -s 'm' -l 'model' -x -d 'Ollama model (default: $SAMPLEMIND_AI_MODEL or llama3.2:3b).'
complete -c samplemind -n '__samplemind_using describe' -l 'refresh' -d 'Ask again, even for samples already described or cached.'
complete -c samplemind -n '__samplemind_using describe' -s 'j' -l 'concurrency' -l 'jobs' -x -d 'Requests to Ollama at once (it queues the rest).'
complete -c samplemind -n '__samplemind_using describe' -l 'timeout' -x -d 'Seconds one answer may take before the sample fails.'
complete -c samplemind -n '__samplemind_using describe' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using describe' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using describe' -F

# samplemind doctor
complete -c samplemind -n '__samplemind_using doctor' -s 'm' -l 'model' -x -d 'Ollama model (default: $SAMPLEMIND_AI_MODEL or llama3.2:3b).'
complete -c samplemind -n '__samplemind_using doctor' -l 'require-ai' -d 'Exit 4 unless Ollama runs and the model is pulled.'
complete -c samplemind -n '__samplemind_using doctor' -s 'f' -l 'format' -x -a 'table json jsonl' -d 'Output format: table, json or jsonl.'
complete -c samplemind -n '__samplemind_using doctor' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind dupes
complete -c samplemind -n '__samplemind_using dupes' -s 't' -l 'threshold' -x -d 'Near duplicates: the largest combined distance (default 0.20; 0 = exact only).'
complete -c samplemind -n '__samplemind_using dupes' -l 'exact-only' -d 'Only identical audio (also across formats).'
complete -c samplemind -n '__samplemind_using dupes' -l 'near-only' -d 'Only near duplicates.'
complete -c samplemind -n '__samplemind_using dupes' -l 'move-to' -r -F -d 'Move the redundant copies under DIR (keeping their relative paths) and write an undo manifest there.'
complete -c samplemind -n '__samplemind_using dupes' -l 'delete' -d 'Delete the redundant copies (asks first unless --yes).'
complete -c samplemind -n '__samplemind_using dupes' -s 'y' -l 'yes' -d 'Do not ask before --delete.'
complete -c samplemind -n '__samplemind_using dupes' -l 'undo' -x -d 'Put back the files a --move-to manifest moved.'
complete -c samplemind -n '__samplemind_using dupes' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using dupes' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind export
complete -c samplemind -n '__samplemind_using export' -l 'to' -r -F -d 'The kit folder (created if missing).'
complete -c samplemind -n '__samplemind_using export' -l 'link' -d 'Hard links (a symbolic link across file systems) instead of copies.'
complete -c samplemind -n '__samplemind_using export' -l 'copy' -d 'Copy the files (the default).'
complete -c samplemind -n '__samplemind_using export' -s 'p' -l 'pattern' -x -d 'Path of each file in the kit, e.g. \'{category}/{bpm}_{key}_{name}\' (default \'{category}/{name}\').'
complete -c samplemind -n '__samplemind_using export' -l 'zip' -r -F -d 'Also (or only) write the kit as a zip file.'
complete -c samplemind -n '__samplemind_using export' -l 'force' -d 'Overwrite files that are already there.'
complete -c samplemind -n '__samplemind_using export' -l 'as' -x -d 'Also write a sampler instrument of the kit (sfz or decentsampler): drums on the General MIDI map, velocity layers by loudness, pitched sounds chromatic.'
complete -c samplemind -n '__samplemind_using export' -l 'round-robin' -d 'With --as: further sounds of one drum become round robins on its key instead of neighbouring keys.'
complete -c samplemind -n '__samplemind_using export' -s 'f' -l 'format' -x -a 'json jsonl' -d 'Also print the export report to stdout (json or jsonl).'
complete -c samplemind -n '__samplemind_using export' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind fav
complete -c samplemind -n '__samplemind_using fav' -a 'add' -d 'Star the samples a query (or the files) select.'
complete -c samplemind -n '__samplemind_using fav' -a 'ls' -d 'One account\'s favourites, the first starred first (like ls fav:NAME).'
complete -c samplemind -n '__samplemind_using fav' -a 'rm' -d 'Unstar the samples a query (or the files) select.'
complete -c samplemind -n '__samplemind_using fav' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind fav add
complete -c samplemind -n '__samplemind_using fav add' -l 'also' -r -F -d 'More files or ids to include (repeatable).'
complete -c samplemind -n '__samplemind_using fav add' -l 'account' -x -d 'Whose favourites: an account of `samplemind serve` (the web UI\'s stars), or \'local\' where the server has no accounts.'
complete -c samplemind -n '__samplemind_using fav add' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using fav add' -F

# samplemind fav ls
complete -c samplemind -n '__samplemind_using fav ls' -l 'account' -x -d 'Whose favourites: an account of `samplemind serve` (the web UI\'s stars), or \'local\' where the server has no accounts.'
complete -c samplemind -n '__samplemind_using fav ls' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using fav ls' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind fav rm
complete -c samplemind -n '__samplemind_using fav rm' -l 'also' -r -F -d 'More files or ids to include (repeatable).'
complete -c samplemind -n '__samplemind_using fav rm' -l 'account' -x -d 'Whose favourites: an account of `samplemind serve` (the web UI\'s stars), or \'local\' where the server has no accounts.'
complete -c samplemind -n '__samplemind_using fav rm' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using fav rm' -F

# samplemind index
complete -c samplemind -n '__samplemind_using index' -a 'rebuild' -d 'Rebuild the similarity index from the vectors in the catalog.'
complete -c samplemind -n '__samplemind_using index' -a 'status' -d 'Kind, size, generation and tuning of the similarity index (brought up to date).'
complete -c samplemind -n '__samplemind_using index' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind index rebuild
complete -c samplemind -n '__samplemind_using index rebuild' -s 'f' -l 'format' -x -a 'table json jsonl' -d 'Output format: table, json or jsonl.'
complete -c samplemind -n '__samplemind_using index rebuild' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind index status
complete -c samplemind -n '__samplemind_using index status' -s 'f' -l 'format' -x -a 'table json jsonl' -d 'Output format: table, json or jsonl.'
complete -c samplemind -n '__samplemind_using index status' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind ls
complete -c samplemind -n '__samplemind_using ls' -l 'type' -x -a 'loop oneshot' -d 'Only loops or one-shots.'
complete -c samplemind -n '__samplemind_using ls' -s 'c' -l 'category' -x -d 'Only this category (kick, snare, hihat, bass, ...).'
complete -c samplemind -n '__samplemind_using ls' -l 'bpm' -x -d 'Tempo range MIN..MAX (either end may be left open).'
complete -c samplemind -n '__samplemind_using ls' -l 'key' -x -d 'Only this key, e.g. Am, \'F# major\'.'
complete -c samplemind -n '__samplemind_using ls' -s 'n' -l 'limit' -x -d 'At most N samples.'
complete -c samplemind -n '__samplemind_using ls' -l 'ask' -x -d 'Plain words, e.g. \'dark punchy kick\': a local model (Ollama) or the built-in translator turns them into a query, shown on stderr.'
complete -c samplemind -n '__samplemind_using ls' -s 'm' -l 'model' -x -d 'Ollama model for --ask (default: $SAMPLEMIND_AI_MODEL or llama3.2:3b).'
complete -c samplemind -n '__samplemind_using ls' -l 'no-model' -d 'With --ask: the built-in translator only, never Ollama.'
complete -c samplemind -n '__samplemind_using ls' -l 'min-confidence' -x -d 'Trust only estimates (type, category, bpm, key, chord, note) with confidence >= X: the others are shown as unknown (null), and --type/--category/--bpm/--key and query terms on an estimate match only trusted values.'
complete -c samplemind -n '__samplemind_using ls' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using ls' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind man
complete -c samplemind -n '__samplemind_using man' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind map
complete -c samplemind -n '__samplemind_using map' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using map' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind play
complete -c samplemind -n '__samplemind_using play' -l 'player' -x -d 'The command that plays a file (default: the first of ffplay, paplay, pw-play, aplay, afplay found).'
complete -c samplemind -n '__samplemind_using play' -s 'n' -l 'limit' -x -d 'Play at most this many matches of a query.'
complete -c samplemind -n '__samplemind_using play' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using play' -F

# samplemind review
complete -c samplemind -n '__samplemind_using review' -s 'f' -l 'format' -x -a 'json jsonl' -d 'Print the next questions for scripts instead of asking (json or jsonl).'
complete -c samplemind -n '__samplemind_using review' -s 'n' -l 'count' -x -d 'Questions to print with --format.'
complete -c samplemind -n '__samplemind_using review' -l 'reviewer' -x -d 'With --format: lease the questions printed to NAME for two minutes, so no other reviewer is asked them (answer over the API with the same reviewer). Without it the list leases nothing.'
complete -c samplemind -n '__samplemind_using review' -l 'player' -x -d 'The command that plays a file (default: the first of ffplay, paplay, pw-play, aplay, afplay found).'
complete -c samplemind -n '__samplemind_using review' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind scan
complete -c samplemind -n '__samplemind_using scan' -s 'j' -l 'jobs' -x -d 'Worker processes for analysis (default: the core count).'
complete -c samplemind -n '__samplemind_using scan' -l 'timeout' -x -d 'Seconds one file may take before it is failed (plus 1 s per MB).'
complete -c samplemind -n '__samplemind_using scan' -l 'retry-failed' -d 'Analyse again files that failed before and did not change.'
complete -c samplemind -n '__samplemind_using scan' -s 'f' -l 'format' -x -a 'json jsonl' -d 'Also print the scan report to stdout (json or jsonl).'
complete -c samplemind -n '__samplemind_using scan' -l 'cluster' -x -d 'Analyse on a Dask cluster: the address of its scheduler (tcp://HOST:8786), or local:N to start N local workers (README: Analysis on a Dask cluster).'
complete -c samplemind -n '__samplemind_using scan' -l 'path-map' -x -d 'Where the cluster\'s workers see a local folder, e.g. /Volumes/Samples=/mnt/samples (repeatable).'
complete -c samplemind -n '__samplemind_using scan' -l 'ship-bytes' -d 'Send file contents to the cluster\'s workers (default: paths when every worker sees the files, else contents).'
complete -c samplemind -n '__samplemind_using scan' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using scan' -F

# samplemind serve
complete -c samplemind -n '__samplemind_using serve' -l 'host' -x -d 'Address to listen on. Anything but loopback needs accounts or a token (samplemind user add / token add), or --insecure.'
complete -c samplemind -n '__samplemind_using serve' -s 'p' -l 'port' -x -d 'Port (0: any free one).'
complete -c samplemind -n '__samplemind_using serve' -l 'insecure' -d 'Serve a non-loopback --host without logins: anyone who can reach it is admin (a warning is printed).'
complete -c samplemind -n '__samplemind_using serve' -l 'allow-host' -x -d 'Another Host header name to accept (the name browsers use to reach the server); \'*\' accepts any. Repeatable.'
complete -c samplemind -n '__samplemind_using serve' -l 'allow-origin' -x -d 'Another browser origin allowed to call the API and open the WebSocket, e.g. https://ui.example:8443. Repeatable.'
complete -c samplemind -n '__samplemind_using serve' -l 'allow-delete' -d 'Let DELETE /api/v1/samples/{id}/file delete files on disk.'
complete -c samplemind -n '__samplemind_using serve' -l 'upload-dir' -r -F -d 'Where uploads are stored (default: <data dir>/uploads).'
complete -c samplemind -n '__samplemind_using serve' -l 'max-upload-mb' -x -d 'Largest upload (all files of one request), MiB.'
complete -c samplemind -n '__samplemind_using serve' -l 'scan-root' -r -F -d 'A folder POST /api/v1/scans may scan, besides the catalog\'s roots. Repeatable.'
complete -c samplemind -n '__samplemind_using serve' -l 'record-cache-mb' -x -d 'Memory for sample records kept encoded and ready to send, filled newest first at start; 0 turns it off.'
complete -c samplemind -n '__samplemind_using serve' -l 'get' -r -F -d 'Answer one GET of PATH in-process, print the body and exit (0 on 2xx, 1 otherwise).'
complete -c samplemind -n '__samplemind_using serve' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind set
complete -c samplemind -n '__samplemind_using set' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using set' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using set' -F

# samplemind show
complete -c samplemind -n '__samplemind_using show' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using show' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using show' -F

# samplemind similar
complete -c samplemind -n '__samplemind_using similar' -s 'k' -l 'count' -x -d 'How many similar samples to show.'
complete -c samplemind -n '__samplemind_using similar' -s 'a' -l 'aspect' -x -d 'Aspect weights, e.g. timbre=2,pitch=0 (aspects: timbre, spectral, envelope, tonal (or pitch), rhythm; default 1 each).'
complete -c samplemind -n '__samplemind_using similar' -l 'type' -x -a 'loop oneshot' -d 'Only loops or one-shots.'
complete -c samplemind -n '__samplemind_using similar' -s 'c' -l 'category' -x -d 'Only this category (kick, snare, hihat, bass, ...).'
complete -c samplemind -n '__samplemind_using similar' -s 'q' -l 'query' -x -d 'Only samples matching this query (see README: Queries).'
complete -c samplemind -n '__samplemind_using similar' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using similar' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using similar' -F

# samplemind stats
complete -c samplemind -n '__samplemind_using stats' -s 'f' -l 'format' -x -a 'table json jsonl' -d 'Output format: table, json or jsonl.'
complete -c samplemind -n '__samplemind_using stats' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind suggest
complete -c samplemind -n '__samplemind_using suggest' -s 'k' -x -d 'Tagged neighbours that vote (1 to 100).'
complete -c samplemind -n '__samplemind_using suggest' -s 't' -l 'threshold' -x -d 'Smallest confidence (weighted share of neighbour votes) to suggest: above 0, at most 1.'
complete -c samplemind -n '__samplemind_using suggest' -l 'apply' -d 'Write the suggestions as tags (source \'suggested\').'
complete -c samplemind -n '__samplemind_using suggest' -s 'f' -l 'format' -x -a 'table json jsonl csv paths' -d 'Output format: table, json, jsonl, csv or paths.'
complete -c samplemind -n '__samplemind_using suggest' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind tag
complete -c samplemind -n '__samplemind_using tag' -a 'add' -d 'Add tags to the samples a query (or the files) select.'
complete -c samplemind -n '__samplemind_using tag' -a 'rm' -d 'Remove tags from the samples a query (or the files) select.'
complete -c samplemind -n '__samplemind_using tag' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind tag add
complete -c samplemind -n '__samplemind_using tag add' -l 'also' -r -F -d 'More files or ids to include (repeatable).'
complete -c samplemind -n '__samplemind_using tag add' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using tag add' -F

# samplemind tag rm
complete -c samplemind -n '__samplemind_using tag rm' -l 'also' -r -F -d 'More files or ids to include (repeatable).'
complete -c samplemind -n '__samplemind_using tag rm' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using tag rm' -F

# samplemind tags
complete -c samplemind -n '__samplemind_using tags' -s 'f' -l 'format' -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv.'
complete -c samplemind -n '__samplemind_using tags' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind token
complete -c samplemind -n '__samplemind_using token' -a 'add' -d 'Create an API token and print its secret to stdout, once: it cannot be shown again.'
complete -c samplemind -n '__samplemind_using token' -a 'ls' -d 'List API tokens: name, role, created and last used (never the secret).'
complete -c samplemind -n '__samplemind_using token' -a 'rm' -d 'Revoke an API token.'
complete -c samplemind -n '__samplemind_using token' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind token add
complete -c samplemind -n '__samplemind_using token add' -s 'r' -l 'role' -x -a 'viewer editor admin' -d 'viewer (read and listen), editor (also scan, tag, upload) or admin (everything).'
complete -c samplemind -n '__samplemind_using token add' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind token ls
complete -c samplemind -n '__samplemind_using token ls' -s 'f' -l 'format' -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv.'
complete -c samplemind -n '__samplemind_using token ls' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind token rm
complete -c samplemind -n '__samplemind_using token rm' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user
complete -c samplemind -n '__samplemind_using user' -a 'add' -d 'Add an account (the password is asked twice, hidden, unless --password-stdin).'
complete -c samplemind -n '__samplemind_using user' -a 'ls' -d 'List accounts with their roles (never passwords).'
complete -c samplemind -n '__samplemind_using user' -a 'passwd' -d 'Set a new password for an account; its sessions end (everyone logs in again).'
complete -c samplemind -n '__samplemind_using user' -a 'rm' -d 'Remove an account; its sessions end at once.'
complete -c samplemind -n '__samplemind_using user' -a 'role' -d 'Change an account\'s role (takes effect on its next request).'
complete -c samplemind -n '__samplemind_using user' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user add
complete -c samplemind -n '__samplemind_using user add' -s 'r' -l 'role' -x -a 'viewer editor admin' -d 'viewer (read and listen), editor (also scan, tag, upload) or admin (everything).'
complete -c samplemind -n '__samplemind_using user add' -l 'password-stdin' -d 'Read the password from the first line of stdin (for scripts).'
complete -c samplemind -n '__samplemind_using user add' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user ls
complete -c samplemind -n '__samplemind_using user ls' -s 'f' -l 'format' -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv.'
complete -c samplemind -n '__samplemind_using user ls' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user passwd
complete -c samplemind -n '__samplemind_using user passwd' -l 'password-stdin' -d 'Read the password from the first line of stdin (for scripts).'
complete -c samplemind -n '__samplemind_using user passwd' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user rm
complete -c samplemind -n '__samplemind_using user rm' -s 'h' -l 'help' -d 'Show this message and exit.'

# samplemind user role
complete -c samplemind -n '__samplemind_using user role' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using user role' -a 'viewer editor admin' -d 'The new role: viewer, editor or admin.'

# samplemind watch
complete -c samplemind -n '__samplemind_using watch' -s 'j' -l 'jobs' -x -d 'Worker processes for analysis (default: the core count).'
complete -c samplemind -n '__samplemind_using watch' -l 'timeout' -x -d 'Seconds one file may take before it is failed (plus 1 s per MB).'
complete -c samplemind -n '__samplemind_using watch' -l 'settle' -x -d 'Scan once no file has changed for this many seconds.'
complete -c samplemind -n '__samplemind_using watch' -l 'max-wait' -x -d 'Scan at least this often while changes keep coming.'
complete -c samplemind -n '__samplemind_using watch' -l 'poll' -d 'Poll instead of using inotify (network drives are always polled).'
complete -c samplemind -n '__samplemind_using watch' -s 'f' -l 'format' -x -a 'jsonl' -d 'Also print every event as a JSON line on stdout (jsonl).'
complete -c samplemind -n '__samplemind_using watch' -s 'h' -l 'help' -d 'Show this message and exit.'
complete -c samplemind -n '__samplemind_using watch' -F
