/* Paging: Sv39 (see common/vm_body.h). */
// VF-XLEN: 64
#define VM_SV39
#include "vm_body.h"
