# fermi-sciencetools-shim: set PFILES on conda activation, as the Fermitools package does.
# User (read-write) folder ~/pfiles before ';', the shim's shipped .par files after it.
export FERMI_SHIM_OLD_PFILES="${PFILES-__unset__}"
_fermi_shim_sys="${CONDA_PREFIX}/share/fermi-sciencetools-shim/syspfiles"
if [ -z "${PFILES+x}" ]; then
    mkdir -p "${HOME}/pfiles" 2>/dev/null || true
    export PFILES="${HOME}/pfiles;${_fermi_shim_sys}"
else
    case "${PFILES}" in
        *";"*) export PFILES="${PFILES}:${_fermi_shim_sys}" ;;
        *) export PFILES="${PFILES};${_fermi_shim_sys}" ;;
    esac
fi
unset _fermi_shim_sys
