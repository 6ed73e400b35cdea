/* caption_net.c - checks and counts on a net fed by a caption Data layer:
 * its vocabulary against the caption set's, and the words a batch scores. */
#include <string.h>

#include "dltrain/error.h"
#include "train/caption_net.h"

int dlt__is_caption_net(const dlt_net *net)
{
    const dlt_layer *d = dlt_net_data_layer(net);
    return d && d->ntop == 4;
}

int dlt__caption_vocab_check(const dlt_net *net, int vocab, const char *net_path,
                             const char *set_path)
{
    if (!dlt__is_caption_net(net))
        return 0;
    const dlt_layer *d = dlt_net_data_layer(net);
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        dlt_layer_desc desc;
        dlt_layer_describe(l, &desc);
        /* The words go in through Embed's table and come out as the loss's classes. */
        int embed = strcmp(l->ops->type, "Embed") == 0 && l->bottom[0] == d->top[1];
        int loss = strcmp(l->ops->type, "SoftmaxWithLoss") == 0 && l->nbottom == 2 &&
                   l->bottom[1] == d->top[2];
        if ((embed && desc.input_dim < vocab) || (loss && desc.num_output < vocab))
            DLT_FAIL(DLT_ERR_ARG, "%s: layer '%s' (%s) takes %d word ids (%s %d), but the caption set "
                     "%s has a vocabulary of %d; HINT: set Embed's input_dim and the last "
                     "InnerProduct's num_output to at least %d", net_path, l->name, l->ops->type,
                     embed ? desc.input_dim : desc.num_output, embed ? "input_dim" : "classes",
                     embed ? desc.input_dim : desc.num_output, set_path, vocab, vocab);
    }
    return 0;
}

double dlt__caption_word_loss(const dlt_net *net, double *words)
{
    *words = 0;
    if (!dlt__is_caption_net(net))
        return 0;
    const dlt_tensor *target = dlt_net_data_layer(net)->top[2];
    for (int i = 0; i < dlt_net_num_layers(net); i++) {
        const dlt_layer *l = dlt_net_layer(net, i);
        if (strcmp(l->ops->type, "SoftmaxWithLoss") != 0 || l->nbottom != 2 || l->bottom[1] != target)
            continue;
        double n = 0;
        for (size_t k = 0; k < target->count; k++)
            n += target->data[k] != 0.0f;
        *words = n;
        return (double)l->top[0]->data[0] * n;
    }
    return 0;
}
