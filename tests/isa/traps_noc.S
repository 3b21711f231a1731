/* traps.S assembled without the C extension, so every instruction is tested
 * in its 32-bit encoding (with C the assembler compresses many of them). */
// VF-NO-C
#include "traps.S"
