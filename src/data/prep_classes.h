/* prep_classes.h - class-name lists of dltrain-prep: grown one name at a
 * time, or read from a --classes file (one name per line). */
#ifndef DLTRAIN_DATA_PREP_CLASSES_H
#define DLTRAIN_DATA_PREP_CLASSES_H

/* Append a copy of NAME to the (*N) names in *NAMES. */
void dlt__prep_class_add(char ***names, int *n, const char *name);

/* Append the names in PATH, one per line. Fails naming the file (and the
 * line of an empty name) when it cannot be read or holds no names; the
 * names added so far stay in the list for the caller to free. */
int dlt__prep_classes_read(const char *path, char ***names, int *n);

/* Free the list and leave it empty. */
void dlt__prep_classes_free(char ***names, int *n);

#endif
