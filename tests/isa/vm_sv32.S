/* Paging: Sv32 (see common/vm_body.h). */
// VF-XLEN: 32
#define VM_SV32
#include "vm_body.h"
