#!/usr/bin/env bash
# Fails when a source or public header includes a header of a layer it may not use (README:
# Layout). CMake links each layer only onto the layers below it; this catches what linking
# cannot: a header-only use (an inline function, a struct) of a layer above.
#   scripts/check_layers.sh [repository root]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# layer: the layers whose public headers it may include (itself always).
declare -A allowed=(
  [common]=""
  [model]="common"
  [data]="common model"
  [optimizers]="common"
  [federation]="common model data optimizers"
  [evaluation]="common model data optimizers federation"
  [bench]="common model optimizers"
  [cli]="common model data optimizers federation evaluation bench"
)

status=0
for layer in "${!allowed[@]}"; do
  for file in src/"$layer"/* include/fedkseed/"$layer"/*; do
    [ -f "$file" ] || continue
    while IFS= read -r used; do
      case " $layer ${allowed[$layer]} " in
        *" $used "*) ;;
        *) echo "$file: includes fedkseed/$used/ (layer $layer may use: ${allowed[$layer]:-nothing})"; status=1 ;;
      esac
    done < <(grep -o '#include "fedkseed/[a-z_]*/' "$file" | sed 's|#include "fedkseed/||; s|/$||' | sort -u)
    if grep -n '#include "src/' "$file"; then
      echo "$file: includes by repository path (internal headers sit on their layer's own include path)"
      status=1
    fi
  done
done
exit $status
