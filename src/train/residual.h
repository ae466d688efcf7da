/* residual.h - the residual block (torchvision's BasicBlock shape) as one
 * composite layer: y = relu(body(x) + shortcut(x)), where body and shortcut
 * are sequential nets (net.h) and a missing shortcut is the identity.
 *
 * The layer owns its two nets; their parameters and buffers are views into
 * the layer's own (bound by its owner like any layer's), laid out body
 * first, then shortcut: the state_dict order of a module whose attributes
 * are the body's layers followed by a `shortcut` nn.Sequential. The block
 * is collective (batchnorm inside may talk across ranks), so with a Dist of
 * several ranks every rank runs its forward and backward, an empty slice
 * included. It provides no model (resnet18.c builds one) and, for now, no
 * GPU path (forward_cuda/backward_cuda are NULL). */
#ifndef MH_RESIDUAL_H
#define MH_RESIDUAL_H

#include <stdint.h>

#include "train/layers.h"
#include "train/net.h"

/* A residual block over body and shortcut (NULL: identity). Both nets are
 * moved into the layer and emptied here, also on failure (like
 * net_model_create). The body must be non-empty; its output shape is the
 * block's, and the shortcut must map the body's input shape to the same
 * output shape (without one, the body must keep the shape). NULL on
 * failure, with the error recorded. */
Layer *layer_residual(Net *body, Net *shortcut);

#endif
