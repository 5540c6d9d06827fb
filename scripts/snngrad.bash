# bash completion for snngrad.  The commands, each command's options and the
# rule names are read from the program's own help (`snngrad help`, `snngrad
# help CMD`) when first needed, so that a command or rule added later
# completes without editing this file.  Installed to
# ${datadir}/bash-completion/completions/snngrad.

_snngrad_help() {
  # $1: the program, $2: the command (empty: the overview); cached per shell,
  # program and command
  local key="_snngrad_cache_${1//[^a-zA-Z0-9]/_}__${2//[^a-z0-9]/_}"
  if [[ -z ${!key+set} ]]; then
    printf -v "$key" '%s' "$("$1" help ${2:+"$2"} 2>/dev/null)"
  fi
  printf '%s\n' "${!key}"
}

_snngrad_commands() {
  _snngrad_help "$1" "" | sed -n 's/^ *snngrad \([a-z][a-z0-9-]*\).*/\1/p' | sort -u
}

_snngrad_rules() {
  _snngrad_help "$1" "" | awk '/^RULES/ { r = 1; next } r && /^[^ ]/ { r = 0 } r && /^  [a-z]/ { sub(/^  /, ""); sub(/[:[].*/, ""); print }'
}

_snngrad_options() {
  # every -x and --word of the command's help, the RULES part left out
  _snngrad_help "$1" "$2" | awk '/^RULES/ { r = 1; next } r && /^  -/ { r = 0 } !r' |
    grep -oE '(^|[][ ,|])--?[a-z][a-z0-9-]*' | sed 's/^[][ ,|]//' | sort -u
  echo --help
}

_snngrad() {
  local cur prev prog cmd
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  prog=${COMP_WORDS[0]}
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "$(_snngrad_commands "$prog")" -- "$cur")
    return
  fi
  cmd=${COMP_WORDS[1]}
  if [[ $cmd == help ]]; then
    ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$(_snngrad_commands "$prog")" -- "$cur")
    return
  fi
  case $prev in
    --rule | --rules)
      # a list: complete the rule after the last comma; options after ':' are left to the user
      local head="" last=$cur
      [[ $cur == *,* ]] && head=${cur%,*}, && last=${cur##*,}
      [[ $last == *:* ]] && return
      mapfile -t COMPREPLY < <(compgen -P "$head" -W "$(_snngrad_rules "$prog")" -- "$last")
      compopt -o nospace 2>/dev/null
      return
      ;;
    --method)
      mapfile -t COMPREPLY < <(compgen -W "richardson central" -- "$cur")
      return
      ;;
    --recurrent)
      mapfile -t COMPREPLY < <(compgen -W "yes no" -- "$cur")
      return
      ;;
    --precision)
      mapfile -t COMPREPLY < <(compgen -W "53 64 128 256 mpfr:53" -- "$cur")
      return
      ;;
    --out)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return
      ;;
    --neurons | --steps | --layers | --reps | --until | --updates | --threads | --step | --max-memory | --model | --precision-sweep)
      return
      ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_snngrad_options "$prog" "$cmd")" -- "$cur")
    return
  fi
  # network, parameter, experiment and output files
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _snngrad snngrad
