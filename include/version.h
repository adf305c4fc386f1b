/* version.h - the one place the version is set. */
#ifndef SENDSIM_VERSION_H
#define SENDSIM_VERSION_H
#define SENDSIM_VERSION "0.1.0"
#endif /* SENDSIM_VERSION_H */
