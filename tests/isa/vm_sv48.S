/* Paging: Sv48 (see common/vm_body.h). */
// VF-XLEN: 64
#define VM_SV48
#include "vm_body.h"
