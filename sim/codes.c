/* codes.c - name tables and lookups for the fixed codes of DESIGN.md. */
#include "codes.h"

#include <string.h>

/* These tables follow the enum order in codes.h. */
static const char *const PHASE_CODE[SIM_N_PHASES] = { "EY", "PRI", "SEC", "P16", "P19" };
static const char *const PHASE_LABEL[SIM_N_PHASES] = {
    "early years", "primary", "secondary", "post-16", "post-19"
};
static const int PHASE_FIRST[SIM_N_PHASES] = { 0, 4, 11, 16, 19 };
static const int PHASE_LAST[SIM_N_PHASES] = { 3, 10, 15, 18, 25 };

static const char *const NEED_CODE[SIM_N_NEEDS] = {
    "ASD", "HI", "MLD", "MSI", "OTH", "PD", "PMLD", "SEMH", "SLCN", "SLD", "SPLD", "VI", "UNK"
};
static const char *const NEED_LABEL[SIM_N_NEEDS] = {
    "autistic spectrum disorder", "hearing impairment", "moderate learning difficulty",
    "multi-sensory impairment", "other difficulty", "physical disability",
    "profound and multiple learning difficulty", "social, emotional and mental health",
    "speech, language and communication needs", "severe learning difficulty",
    "specific learning difficulty", "visual impairment", "need not recorded"
};

static const char *const SETTING_CODE[SIM_N_SETTINGS] = {
    "MS", "RP", "SS", "IS", "AP", "FE", "SPI", "EY", "ELS", "NEET", "UNK"
};
static const char *const SETTING_LABEL[SIM_N_SETTINGS] = {
    "mainstream school", "resourced provision or SEN unit", "state special school",
    "independent or non-maintained special school", "alternative provision or PRU",
    "further education college", "specialist post-16 institution", "early years setting",
    "educated elsewhere", "not in education, employment or training", "placement not recorded"
};
static const int SETTING_GROUP[SIM_N_SETTINGS] = {
    GROUP_MS, GROUP_RP, GROUP_SS, GROUP_IS, GROUP_AP, GROUP_P16, GROUP_P16, -1, -1, -1, -1
};

static const char *const GROUP_CODE[SIM_N_GROUPS] = { "RP", "SS", "IS", "MS", "P16", "AP" };
static const char *const GROUP_LABEL[SIM_N_GROUPS] = {
    "resourced provision", "state special", "independent special", "mainstream", "post-16",
    "alternative provision"
};

const char *phase_code(sim_phase i) { return PHASE_CODE[i]; }
const char *need_code(sim_need i) { return NEED_CODE[i]; }
const char *setting_code(sim_setting i) { return SETTING_CODE[i]; }
const char *group_code(sim_group i) { return GROUP_CODE[i]; }
const char *phase_label(sim_phase i) { return PHASE_LABEL[i]; }
const char *need_label(sim_need i) { return NEED_LABEL[i]; }
const char *setting_label(sim_setting i) { return SETTING_LABEL[i]; }
const char *group_label(sim_group i) { return GROUP_LABEL[i]; }

static int find(const char *const *table, int n, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(table[i], s) == 0)
            return i;
    return -1;
}

int phase_parse(const char *s) { return find(PHASE_CODE, SIM_N_PHASES, s); }
int need_parse(const char *s) { return find(NEED_CODE, SIM_N_NEEDS, s); }
int setting_parse(const char *s) { return find(SETTING_CODE, SIM_N_SETTINGS, s); }
int group_parse(const char *s) { return find(GROUP_CODE, SIM_N_GROUPS, s); }

sim_phase phase_of_age(int age)
{
    sim_phase p = PHASE_EY;
    for (int i = 0; i < SIM_N_PHASES; i++)
        if (age >= PHASE_FIRST[i])
            p = (sim_phase)i;
    return p;
}

int phase_first_age(sim_phase p) { return PHASE_FIRST[p]; }
int phase_last_age(sim_phase p) { return PHASE_LAST[p]; }
int group_of_setting(sim_setting s) { return SETTING_GROUP[s]; }

const char *phase_codes_list(void) { return "EY,PRI,SEC,P16,P19"; }
const char *need_codes_list(void) { return "ASD,HI,MLD,MSI,OTH,PD,PMLD,SEMH,SLCN,SLD,SPLD,VI,UNK"; }
const char *setting_codes_list(void) { return "MS,RP,SS,IS,AP,FE,SPI,EY,ELS,NEET,UNK"; }
const char *group_codes_list(void) { return "RP,SS,IS,MS,P16,AP"; }
