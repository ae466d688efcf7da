/* model_registry.c - every model type; adding a model is one line here. */
#include "train/model.h"

extern const ModelType model_logistic_regression;

const ModelType *const model_registry[] = {
    &model_logistic_regression,
    NULL,
};
