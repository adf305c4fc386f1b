/* codes.h - the fixed vocabulary of DESIGN.md: ages, phases, needs, settings and groups.
 *
 * Every file sendsim reads or writes uses these codes; each enum's order is the order of its
 * name table in codes.c and the order rows are written in. Nothing here allocates. */
#ifndef SENDSIM_CODES_H
#define SENDSIM_CODES_H

enum { SIM_MIN_AGE = 0, SIM_MAX_AGE = 25, SIM_N_AGES = 26 };

/* Keep the name tables in codes.c in step with these enums. */
typedef enum sim_phase { PHASE_EY, PHASE_PRI, PHASE_SEC, PHASE_P16, PHASE_P19, SIM_N_PHASES } sim_phase;

typedef enum sim_need {
    NEED_ASD, NEED_HI, NEED_MLD, NEED_MSI, NEED_OTH, NEED_PD, NEED_PMLD, NEED_SEMH, NEED_SLCN,
    NEED_SLD, NEED_SPLD, NEED_VI, NEED_UNK, SIM_N_NEEDS
} sim_need;

typedef enum sim_setting {
    SET_MS, SET_RP, SET_SS, SET_IS, SET_AP, SET_FE, SET_SPI, SET_EY, SET_ELS, SET_NEET, SET_UNK,
    SIM_N_SETTINGS
} sim_setting;

typedef enum sim_group { GROUP_RP, GROUP_SS, GROUP_IS, GROUP_MS, GROUP_P16, GROUP_AP, SIM_N_GROUPS } sim_group;

/* Codes as written in files ("PRI", "ASD", "RP", ...). `i` must be in range. */
const char *phase_code(sim_phase i);
const char *need_code(sim_need i);
const char *setting_code(sim_setting i);
const char *group_code(sim_group i);

/* Words for charts and reports ("primary", "autistic spectrum disorder", ...). */
const char *phase_label(sim_phase i);
const char *need_label(sim_need i);
const char *setting_label(sim_setting i);
const char *group_label(sim_group i);

/* Parse an exact, case-sensitive code; return its index or -1. */
int phase_parse(const char *s);
int need_parse(const char *s);
int setting_parse(const char *s);
int group_parse(const char *s);

/* The phase of an age 0..25 (EY 0-3, PRI 4-10, SEC 11-15, P16 16-18, P19 19-25). */
sim_phase phase_of_age(int age);

/* First and last age of a phase. */
int phase_first_age(sim_phase p);
int phase_last_age(sim_phase p);

/* The capacity group of a setting, or -1 for settings without capacity (EY, ELS, NEET, UNK).
 * FE and SPI are both GROUP_P16. */
int group_of_setting(sim_setting s);

/* Comma-joined list of every code, for "expected" parts of error messages. */
const char *phase_codes_list(void);
const char *need_codes_list(void);
const char *setting_codes_list(void);
const char *group_codes_list(void);

#endif /* SENDSIM_CODES_H */
