# fermi-sciencetools-shim: restore PFILES as it was before activation.
if [ "${FERMI_SHIM_OLD_PFILES-__unset__}" = "__unset__" ]; then
    unset PFILES
else
    export PFILES="${FERMI_SHIM_OLD_PFILES}"
fi
unset FERMI_SHIM_OLD_PFILES
