/* model_registry.c - every model type; adding a model is one line here. */
#include "train/model.h"

extern const ModelType model_logistic_regression;
extern const ModelType model_mlp;
extern const ModelType model_yearbooknet;
extern const ModelType model_smallcnn;
extern const ModelType model_resnet18;
extern const ModelType model_textbag;
extern const ModelType model_dlrm;

const ModelType *const model_registry[] = {
    &model_logistic_regression,
    &model_mlp,
    &model_yearbooknet,
    &model_smallcnn,
    &model_resnet18,
    &model_textbag,
    &model_dlrm,
    NULL,
};
