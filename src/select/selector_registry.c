/* selector_registry.c - every selection strategy; adding one is one line here. */
#include "select/selector.h"

extern const SelectorType selector_new_data, selector_freshness, selector_coreset;

const SelectorType *const selector_registry[] = {
    &selector_new_data,
    &selector_freshness,
    &selector_coreset,
    NULL,
};
