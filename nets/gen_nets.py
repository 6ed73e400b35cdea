#!/usr/bin/python3
"""gen_nets.py - writes the standard networks of nets/ as Caffe prototxt
(train_val + solver each). The long ones (GoogLeNet, ResNets) are
regular, so they are generated rather than typed; the output files are
committed and are what users train. Run from nets/: /usr/bin/python3 gen_nets.py"""


class Net:
    def __init__(self, name, header):
        self.out = ["# " + l for l in header.strip().split("\n")]
        self.out.append('name: "%s"' % name)

    def layer(self, name, type_, bottoms, tops, body="", params=None, phase=None):
        s = ["layer {", '  name: "%s"' % name, '  type: "%s"' % type_]
        s += ['  bottom: "%s"' % b for b in bottoms]
        s += ['  top: "%s"' % t for t in tops]
        if phase:
            s.append("  include { phase: %s }" % phase)
        for p in params or []:
            s.append("  param { %s }" % p)
        if body:
            s += ["  " + l for l in body.strip().split("\n")]
        s.append("}")
        self.out.append("\n".join(s))

    def data(self, train_batch, test_batch, scale="0.00390625", mirror=False):
        for phase, b in (("TRAIN", train_batch), ("TEST", test_batch)):
            flip = " mirror: true" if mirror and phase == "TRAIN" else ""
            self.layer("data", "Data", [], ["data", "label"],
                       "transform_param { scale: %s%s }\ndata_param { batch_size: %d }" % (scale, flip, b),
                       phase=phase)

    def conv(self, name, bottom, n, k, stride=1, pad=0, group=1, filler='type: "xavier"',
             bias=True, bias_value=0.0, top=None):
        body = "convolution_param {\n  num_output: %d\n  kernel_size: %d\n" % (n, k)
        if stride != 1:
            body += "  stride: %d\n" % stride
        if pad:
            body += "  pad: %d\n" % pad
        if group != 1:
            body += "  group: %d\n" % group
        body += "  weight_filler { %s }\n" % filler
        if bias:
            body += '  bias_filler { type: "constant" value: %g }\n' % bias_value
        else:
            body += "  bias_term: false\n"
        body += "}"
        params = ["lr_mult: 1 decay_mult: 1", "lr_mult: 2 decay_mult: 0"] if bias else \
                 ["lr_mult: 1 decay_mult: 1"]
        self.layer(name, "Convolution", [bottom], [top or name], body, params)
        return top or name

    def ip(self, name, bottom, n, filler='type: "xavier"', bias_value=0.0):
        body = ("inner_product_param {\n  num_output: %d\n  weight_filler { %s }\n"
                '  bias_filler { type: "constant" value: %g }\n}' % (n, filler, bias_value))
        self.layer(name, "InnerProduct", [bottom], [name], body,
                   ["lr_mult: 1 decay_mult: 1", "lr_mult: 2 decay_mult: 0"])
        return name

    def relu(self, name, blob):
        self.layer(name, "ReLU", [blob], [blob])
        return blob

    def pool(self, name, bottom, method, k, stride, pad=0, global_=False):
        if global_:
            body = "pooling_param { pool: %s global_pooling: true }" % method
        else:
            body = "pooling_param { pool: %s kernel_size: %d stride: %d%s }" % (
                method, k, stride, " pad: %d" % pad if pad else "")
        self.layer(name, "Pooling", [bottom], [name], body)
        return name

    def lrn(self, name, bottom, size, alpha, beta, within=False):
        body = "lrn_param { local_size: %d alpha: %g beta: %g%s }" % (
            size, alpha, beta, " norm_region: WITHIN_CHANNEL" if within else "")
        self.layer(name, "LRN", [bottom], [name], body)
        return name

    def dropout(self, name, blob, ratio):
        self.layer(name, "Dropout", [blob], [blob], "dropout_param { dropout_ratio: %g }" % ratio)
        return blob

    def bn_scale(self, prefix, blob):
        # Caffe ResNet style: BatchNorm (statistics, lr_mult 0) then Scale, both in place.
        self.layer("bn" + prefix, "BatchNorm", [blob], [blob], "",
                   ["lr_mult: 0 decay_mult: 0"] * 3)
        self.layer("scale" + prefix, "Scale", [blob], [blob], "scale_param { bias_term: true }")
        return blob

    def loss(self, bottom, name="loss", weight=None, acc=True, acc_name="accuracy", top5=False):
        body = "loss_weight: %g" % weight if weight is not None else ""
        self.layer(name, "SoftmaxWithLoss", [bottom, "label"], [name], body)
        if acc:
            self.layer(acc_name, "Accuracy", [bottom, "label"], [acc_name], phase="TEST")
            if top5:
                self.layer(acc_name + "_top5", "Accuracy", [bottom, "label"], [acc_name + "_top5"],
                           "accuracy_param { top_k: 5 }", phase="TEST")

    def write(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.out) + "\n")


def solver(path, header, net, fields):
    lines = ["# " + l for l in header.strip().split("\n")]
    lines.append('net: "%s"' % net)
    lines += fields.strip().split("\n")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def lenet():
    n = Net("LeNet", """LeNet for MNIST (1x28x28), as Caffe's examples/mnist/lenet_train_test.prototxt:
conv 20 5x5, max pool, conv 50 5x5, max pool, ip 500, ReLU, ip 10.""")
    n.data(64, 100)
    n.conv("conv1", "data", 20, 5)
    n.pool("pool1", "conv1", "MAX", 2, 2)
    n.conv("conv2", "pool1", 50, 5)
    n.pool("pool2", "conv2", "MAX", 2, 2)
    n.ip("ip1", "pool2", 500)
    n.relu("relu1", "ip1")
    n.ip("ip2", "ip1", 10)
    n.loss("ip2")
    n.write("lenet_train_val.prototxt")
    solver("lenet_solver.prototxt", "Caffe's examples/mnist/lenet_solver.prototxt.",
           "lenet_train_val.prototxt", """test_iter: 100
test_interval: 500
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
display: 100
max_iter: 10000
snapshot: 5000
snapshot_prefix: "lenet"
solver_mode: CPU""")


def cifar10_quick():
    n = Net("CIFAR10_quick", """Caffe's examples/cifar10/cifar10_quick_train_test.prototxt (3x32x32, 10 classes),
with transform_param scale in place of the mean file.""")
    n.data(100, 100)
    g = 'type: "gaussian" std: %g'
    n.conv("conv1", "data", 32, 5, pad=2, filler=g % 0.0001)
    n.pool("pool1", "conv1", "MAX", 3, 2)
    n.relu("relu1", "pool1")
    n.conv("conv2", "pool1", 32, 5, pad=2, filler=g % 0.01)
    n.relu("relu2", "conv2")
    n.pool("pool2", "conv2", "AVE", 3, 2)
    n.conv("conv3", "pool2", 64, 5, pad=2, filler=g % 0.01)
    n.relu("relu3", "conv3")
    n.pool("pool3", "conv3", "AVE", 3, 2)
    n.ip("ip1", "pool3", 64, filler=g % 0.1)
    n.ip("ip2", "ip1", 10, filler=g % 0.1)
    n.loss("ip2")
    n.write("cifar10_quick_train_val.prototxt")
    solver("cifar10_quick_solver.prototxt", "Caffe's examples/cifar10/cifar10_quick_solver.prototxt.",
           "cifar10_quick_train_val.prototxt", """test_iter: 100
test_interval: 500
base_lr: 0.001
momentum: 0.9
weight_decay: 0.004
lr_policy: "fixed"
display: 100
max_iter: 4000
snapshot: 4000
snapshot_prefix: "cifar10_quick"
solver_mode: CPU""")


def cifar10_full():
    n = Net("CIFAR10_full", """Caffe's examples/cifar10/cifar10_full_train_test.prototxt (3x32x32): three conv
stages with WITHIN_CHANNEL LRN, ip 10 with decay_mult 250 (scale in place of the mean file).""")
    n.data(100, 100)
    g = 'type: "gaussian" std: %g'
    n.conv("conv1", "data", 32, 5, pad=2, filler=g % 0.0001)
    n.pool("pool1", "conv1", "MAX", 3, 2)
    n.relu("relu1", "pool1")
    n.lrn("norm1", "pool1", 3, 5e-05, 0.75, within=True)
    n.conv("conv2", "norm1", 32, 5, pad=2, filler=g % 0.01)
    n.relu("relu2", "conv2")
    n.pool("pool2", "conv2", "AVE", 3, 2)
    n.lrn("norm2", "pool2", 3, 5e-05, 0.75, within=True)
    n.conv("conv3", "norm2", 64, 5, pad=2, filler=g % 0.01)
    n.relu("relu3", "conv3")
    n.pool("pool3", "conv3", "AVE", 3, 2)
    n.layer("ip1", "InnerProduct", ["pool3"], ["ip1"],
            'inner_product_param {\n  num_output: 10\n  weight_filler { type: "gaussian" std: 0.01 }\n'
            '  bias_filler { type: "constant" }\n}',
            ["lr_mult: 1 decay_mult: 250", "lr_mult: 2 decay_mult: 0"])
    n.loss("ip1")
    n.write("cifar10_full_train_val.prototxt")
    solver("cifar10_full_solver.prototxt", "Caffe's examples/cifar10/cifar10_full_solver.prototxt.",
           "cifar10_full_train_val.prototxt", """test_iter: 100
test_interval: 1000
base_lr: 0.001
momentum: 0.9
weight_decay: 0.004
lr_policy: "fixed"
display: 200
max_iter: 60000
snapshot: 10000
snapshot_prefix: "cifar10_full"
solver_mode: CPU""")


def alexnet():
    n = Net("AlexNet", """AlexNet as Caffe's models/bvlc_alexnet/train_val.prototxt (3x227x227, 1000 classes):
LRN ACROSS_CHANNELS, grouped conv2/4/5, dropout 0.5. The dataset gives 227x227 inputs
(Caffe crops 227 from 256 with the mean subtracted; here: scale only).""")
    n.data(256, 50)
    g = 'type: "gaussian" std: %g'
    n.conv("conv1", "data", 96, 11, stride=4, filler=g % 0.01)
    n.relu("relu1", "conv1")
    n.lrn("norm1", "conv1", 5, 0.0001, 0.75)
    n.pool("pool1", "norm1", "MAX", 3, 2)
    n.conv("conv2", "pool1", 256, 5, pad=2, group=2, filler=g % 0.01, bias_value=0.1)
    n.relu("relu2", "conv2")
    n.lrn("norm2", "conv2", 5, 0.0001, 0.75)
    n.pool("pool2", "norm2", "MAX", 3, 2)
    n.conv("conv3", "pool2", 384, 3, pad=1, filler=g % 0.01)
    n.relu("relu3", "conv3")
    n.conv("conv4", "conv3", 384, 3, pad=1, group=2, filler=g % 0.01, bias_value=0.1)
    n.relu("relu4", "conv4")
    n.conv("conv5", "conv4", 256, 3, pad=1, group=2, filler=g % 0.01, bias_value=0.1)
    n.relu("relu5", "conv5")
    n.pool("pool5", "conv5", "MAX", 3, 2)
    n.ip("fc6", "pool5", 4096, filler=g % 0.005, bias_value=0.1)
    n.relu("relu6", "fc6")
    n.dropout("drop6", "fc6", 0.5)
    n.ip("fc7", "fc6", 4096, filler=g % 0.005, bias_value=0.1)
    n.relu("relu7", "fc7")
    n.dropout("drop7", "fc7", 0.5)
    n.ip("fc8", "fc7", 1000, filler=g % 0.01)
    n.loss("fc8", top5=True)
    n.write("alexnet_train_val.prototxt")
    solver("alexnet_solver.prototxt", "Caffe's models/bvlc_alexnet/solver.prototxt.",
           "alexnet_train_val.prototxt", """test_iter: 1000
test_interval: 10000
base_lr: 0.01
lr_policy: "step"
gamma: 0.1
stepsize: 100000
display: 20
max_iter: 450000
momentum: 0.9
weight_decay: 0.0005
snapshot: 10000
snapshot_prefix: "alexnet"
solver_mode: CPU""")


def inception(n, name, bottom, c1, c3r, c3, c5r, c5, pp):
    x = 'type: "xavier"'
    b1 = n.conv(name + "/1x1", bottom, c1, 1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_1x1", b1)
    r3 = n.conv(name + "/3x3_reduce", bottom, c3r, 1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_3x3_reduce", r3)
    b3 = n.conv(name + "/3x3", r3, c3, 3, pad=1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_3x3", b3)
    r5 = n.conv(name + "/5x5_reduce", bottom, c5r, 1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_5x5_reduce", r5)
    b5 = n.conv(name + "/5x5", r5, c5, 5, pad=2, filler=x, bias_value=0.2)
    n.relu(name + "/relu_5x5", b5)
    p = n.pool(name + "/pool", bottom, "MAX", 3, 1, pad=1)
    bp = n.conv(name + "/pool_proj", p, pp, 1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_pool_proj", bp)
    n.layer(name + "/output", "Concat", [b1, b3, b5, bp], [name + "/output"])
    return name + "/output"


def aux(n, name, bottom, weight):
    x = 'type: "xavier"'
    p = n.pool(name + "/ave_pool", bottom, "AVE", 5, 3)
    c = n.conv(name + "/conv", p, 128, 1, filler=x, bias_value=0.2)
    n.relu(name + "/relu_conv", c)
    f = n.ip(name + "/fc", c, 1024, filler=x, bias_value=0.2)
    n.relu(name + "/relu_fc", f)
    n.dropout(name + "/drop_fc", f, 0.7)
    c = n.ip(name + "/classifier", f, 1000, filler=x)
    n.loss(c, name=name + "/loss", weight=weight, acc=True, acc_name=name + "/top-1", top5=True)


def googlenet():
    n = Net("GoogleNet", """GoogLeNet (Inception v1, Szegedy et al. 2014) as Caffe's
models/bvlc_googlenet/train_val.prototxt and DIGITS' standard network: 3x224x224,
two auxiliary classifiers (loss_weight 0.3) after inception 4a and 4d.""")
    n.data(32, 50)
    x = 'type: "xavier"'
    b = n.conv("conv1/7x7_s2", "data", 64, 7, stride=2, pad=3, filler=x, bias_value=0.2)
    n.relu("conv1/relu_7x7", b)
    b = n.pool("pool1/3x3_s2", b, "MAX", 3, 2)
    b = n.lrn("pool1/norm1", b, 5, 0.0001, 0.75)
    b = n.conv("conv2/3x3_reduce", b, 64, 1, filler=x, bias_value=0.2)
    n.relu("conv2/relu_3x3_reduce", b)
    b = n.conv("conv2/3x3", b, 192, 3, pad=1, filler=x, bias_value=0.2)
    n.relu("conv2/relu_3x3", b)
    b = n.lrn("conv2/norm2", b, 5, 0.0001, 0.75)
    b = n.pool("pool2/3x3_s2", b, "MAX", 3, 2)
    b = inception(n, "inception_3a", b, 64, 96, 128, 16, 32, 32)
    b = inception(n, "inception_3b", b, 128, 128, 192, 32, 96, 64)
    b = n.pool("pool3/3x3_s2", b, "MAX", 3, 2)
    b = inception(n, "inception_4a", b, 192, 96, 208, 16, 48, 64)
    aux(n, "loss1", b, 0.3)
    b = inception(n, "inception_4b", b, 160, 112, 224, 24, 64, 64)
    b = inception(n, "inception_4c", b, 128, 128, 256, 24, 64, 64)
    b = inception(n, "inception_4d", b, 112, 144, 288, 32, 64, 64)
    aux(n, "loss2", b, 0.3)
    b = inception(n, "inception_4e", b, 256, 160, 320, 32, 128, 128)
    b = n.pool("pool4/3x3_s2", b, "MAX", 3, 2)
    b = inception(n, "inception_5a", b, 256, 160, 320, 32, 128, 128)
    b = inception(n, "inception_5b", b, 384, 192, 384, 48, 128, 128)
    b = n.pool("pool5/7x7_s1", b, "AVE", 7, 1)
    n.dropout("pool5/drop_7x7_s1", b, 0.4)
    c = n.ip("loss3/classifier", b, 1000, filler=x)
    n.loss(c, name="loss3/loss3", weight=1, acc_name="loss3/top-1", top5=True)
    n.write("googlenet_train_val.prototxt")
    solver("googlenet_solver.prototxt", "Caffe's models/bvlc_googlenet/quick_solver.prototxt.",
           "googlenet_train_val.prototxt", """test_iter: 1000
test_interval: 4000
base_lr: 0.01
lr_policy: "poly"
power: 0.5
display: 40
max_iter: 2400000
momentum: 0.9
weight_decay: 0.0002
snapshot: 40000
snapshot_prefix: "googlenet"
solver_mode: CPU""")


def resnet(depth):
    blocks = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
    bottleneck = depth >= 50
    n = Net("ResNet-%d" % depth, """ResNet-%d (He et al. 2015) in the layout of Kaiming He's Caffe release
(deep-residual-networks): conv - BatchNorm - Scale - ReLU, shortcuts by Eltwise SUM,
projection shortcuts (1x1 conv + BN) where the shape changes; 3x224x224, 1000 classes.""" % depth)
    n.data(32, 50)
    m = 'type: "msra"'
    b = n.conv("conv1", "data", 64, 7, stride=2, pad=3, filler=m, bias=False)
    n.bn_scale("_conv1", b)
    n.relu("conv1_relu", b)
    b = n.pool("pool1", b, "MAX", 3, 2)
    width, inch = 64, 64
    for stage, nb in enumerate(blocks):
        for i in range(nb):
            name = "res%d%s" % (stage + 2, chr(ord("a") + i))
            stride = 2 if (i == 0 and stage > 0) else 1
            out = width * 4 if bottleneck else width
            if i == 0 and (stride != 1 or inch != out):
                sc = n.conv(name + "_branch1", b, out, 1, stride=stride, filler=m, bias=False)
                n.bn_scale(name + "_branch1", sc)
            else:
                sc = b
            if bottleneck:
                x = n.conv(name + "_branch2a", b, width, 1, stride=stride, filler=m, bias=False)
                n.bn_scale(name + "_branch2a", x)
                n.relu(name + "_branch2a_relu", x)
                x = n.conv(name + "_branch2b", x, width, 3, pad=1, filler=m, bias=False)
                n.bn_scale(name + "_branch2b", x)
                n.relu(name + "_branch2b_relu", x)
                x = n.conv(name + "_branch2c", x, out, 1, filler=m, bias=False)
                n.bn_scale(name + "_branch2c", x)
            else:
                x = n.conv(name + "_branch2a", b, width, 3, stride=stride, pad=1, filler=m, bias=False)
                n.bn_scale(name + "_branch2a", x)
                n.relu(name + "_branch2a_relu", x)
                x = n.conv(name + "_branch2b", x, width, 3, pad=1, filler=m, bias=False)
                n.bn_scale(name + "_branch2b", x)
            n.layer(name, "Eltwise", [sc, x], [name])
            n.relu(name + "_relu", name)
            b, inch = name, out
        width *= 2
    b = n.pool("pool5", b, "AVE", 0, 1, global_=True)
    c = n.ip("fc1000", b, 1000, filler='type: "msra"')
    n.loss(c, top5=True)
    n.write("resnet%d_train_val.prototxt" % depth)
    solver("resnet%d_solver.prototxt" % depth, """ResNet-%d solver (He et al. 2015): SGD 0.1, momentum 0.9, weight decay 1e-4,
divided by 10 at 150k and 300k iterations (global batch 256).""" % depth,
           "resnet%d_train_val.prototxt" % depth, """test_iter: 1000
test_interval: 5000
base_lr: 0.1
lr_policy: "multistep"
gamma: 0.1
stepvalue: 150000
stepvalue: 300000
display: 20
max_iter: 600000
momentum: 0.9
weight_decay: 0.0001
snapshot: 10000
snapshot_prefix: "resnet%d"
solver_mode: CPU""" % depth)


def fashion_bn():
    n = Net("FashionMNIST-BN", """Small BatchNorm net for Fashion-MNIST (1x28x28), written for dltrain after the
common 2-conv + BN baseline (~0.93): conv32 3x3 - BN - Scale - ReLU - max pool,
conv96 3x3 - BN - Scale - ReLU - max pool, fc 512 - ReLU - dropout 0.5 - fc 10.
Training images are mirrored at random (clothes are left-right symmetric).""")
    n.data(64, 100, mirror=True)
    m = 'type: "msra"'
    b = n.conv("conv1", "data", 32, 3, pad=1, filler=m, bias=False)
    n.bn_scale("1", b)
    n.relu("relu1", b)
    b = n.pool("pool1", b, "MAX", 2, 2)
    b = n.conv("conv2", b, 96, 3, pad=1, filler=m, bias=False)
    n.bn_scale("2", b)
    n.relu("relu2", b)
    b = n.pool("pool2", b, "MAX", 2, 2)
    f = n.ip("fc1", b, 512, filler=m)
    n.relu("relu3", f)
    n.dropout("drop1", f, 0.5)
    c = n.ip("fc2", f, 10, filler='type: "xavier"')
    n.loss(c)
    n.write("fashion_bn_train_val.prototxt")
    solver("fashion_bn_solver.prototxt", """Solver for fashion_bn_train_val.prototxt, 2 ranks x batch 64 = global batch 128
(468 iterations per epoch): SGD 0.05 with momentum, divided by 10 after 16 and
24 epochs, 30 epochs in all.""", "fashion_bn_train_val.prototxt", """test_iter: 100         # total, split over the ranks (as Caffe): 100 x 100 = the 10,000 test images
test_interval: 936
base_lr: 0.05
momentum: 0.9
weight_decay: 0.0005
lr_policy: "multistep"
gamma: 0.1
stepvalue: 7488
stepvalue: 11232
display: 200
max_iter: 14040
snapshot: 4680
snapshot_prefix: "fashion_bn"
random_seed: 1
solver_mode: CPU""")


if __name__ == "__main__":
    lenet()
    cifar10_quick()
    cifar10_full()
    alexnet()
    googlenet()
    resnet(18)
    resnet(50)
    fashion_bn()
