/* scenario.c - load and validate a scenario directory (placeholder until the loader lands). */
#include "scenario.h"

#include <stdlib.h>

sim_status scenario_load(const char *ini_path, scenario **out, sim_diag *diag)
{
    sim_error e;
    (void)out;
    sim_error_set(&e, SIM_EINTERNAL, ini_path, 0, NULL, "scenario loading is not built yet");
    if (diag)
        sim_diag_add(diag, &e);
    return SIM_EINTERNAL;
}

void scenario_free(scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->history);
    free(sc->pop);
    free(sc->provisions);
    free(sc->waves);
    free(sc);
}
