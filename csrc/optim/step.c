/* Fused optimizer steps for both dtypes: see step_impl.h and the rules in *.inc. */
#include <math.h>

#include "../gainprop.h"
#include "../gp_common.h"
#include "../gp_isa.h"

#define REAL float
#define SFX(name) GP_ISA_NAME(name, _f32)
#define SQRT sqrtf
#define FABS fabsf
#include "step_impl.h"
#undef REAL
#undef SFX
#undef SQRT
#undef FABS

#define REAL double
#define SFX(name) GP_ISA_NAME(name, _f64)
#define SQRT sqrt
#define FABS fabs
#include "step_impl.h"
