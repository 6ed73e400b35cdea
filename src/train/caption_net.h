/* caption_net.h - internal: what the training loop and dltrain-caption need
 * to know about a net fed by a caption Data layer (4 tops). */
#ifndef DLTRAIN_TRAIN_CAPTION_NET_H
#define DLTRAIN_TRAIN_CAPTION_NET_H

#include "dltrain/net.h"

/* 1 when NET's data layer serves caption batches (data, input_words,
 * target_words, cont). */
int dlt__is_caption_net(const dlt_net *net);
/* Every Embed reading input_words needs input_dim >= VOCAB and every
 * SoftmaxWithLoss against target_words as many classes; otherwise an error
 * naming the layer, NET_PATH, both numbers and SET_PATH (DLT_ERR_ARG).
 * 0 for nets without caption data. */
int dlt__caption_vocab_check(const dlt_net *net, int vocab, const char *net_path,
                             const char *set_path);
/* After a forward: the caption loss summed over the batch's words, and in
 * *WORDS their number (target_words entries that are not <pad>, 0). The
 * caption loss is the SoftmaxWithLoss against target_words, whose output is
 * the mean over those words with ignore_label 0 and the default
 * normalization (VALID), as in the nets of nets/. 0 and *WORDS 0 for a net
 * without caption data or without such a loss. */
double dlt__caption_word_loss(const dlt_net *net, double *words);

#endif
