"""Reference outputs for the parity tests of Smile's DenseNet-121 (torchvision) and shallow CNN (docs/METHODS.md,
"Distillation": the 5-layer student, written here in plain PyTorch with the parameter names Smile uses).

usage: classifier_parity.py OUT_DIR
For densenet121 and shallow_cnn writes OUT_DIR/ARCH.pth (state dict + aux_fc.*) and ARCH.safetensors, and
ARCH_expected.safetensors: input, eval-mode logits / features / aux logits, train-mode logits.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from resnet_parity import write_safetensors  # noqa: E402

NUM_CLASSES, AUX_CLASSES = 17, 23


class ShallowCnn(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128)
        self.fc1, self.bn4 = nn.Linear(128 * 4 * 4, 128), nn.BatchNorm1d(128)
        self.fc = nn.Linear(128, k)

    def parts(self, x):
        y = F.relu(F.max_pool2d(self.bn1(self.conv1(x)), 2))
        y = F.relu(F.max_pool2d(self.bn2(self.conv2(y)), 2))
        fmap = F.relu(F.max_pool2d(self.bn3(self.conv3(y)), 2))
        # Dropout(0.5) sits after the ReLU; the tests compare train mode with it switched off (p = 0) on both sides.
        hidden = F.relu(self.bn4(self.fc1(torch.flatten(fmap, 1))))
        return fmap, hidden


def densenet_parts(model, x):
    fmap = F.relu(model.features(x))
    return fmap, torch.flatten(F.adaptive_avg_pool2d(fmap, (1, 1)), 1)


def build(arch, seed):
    torch.manual_seed(seed)
    if arch == "densenet121":
        model = torchvision.models.densenet121(weights=None, num_classes=NUM_CLASSES)
        parts, head, width, shape = (lambda x: densenet_parts(model, x)), model.classifier, 1024, (2, 3, 64, 64)
    else:
        model = ShallowCnn(NUM_CLASSES)
        parts, head, width, shape = model.parts, model.fc, 128, (4, 3, 32, 32)
    aux = nn.Linear(width, AUX_CLASSES)
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    with torch.no_grad():
        for bn in norms:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.momentum = None  # real statistics of random batches
        model.train()
        for _ in range(2):
            parts(torch.randn(4, *shape[1:]))
        for bn in norms:
            bn.momentum = 0.1
    return model, parts, head, aux, shape


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(2)
    for i, arch in enumerate(["densenet121", "shallow_cnn"]):
        model, parts, head, aux, shape = build(arch, 4321 + i)
        state = model.state_dict()
        state["aux_fc.weight"] = aux.weight.detach().clone()
        state["aux_fc.bias"] = aux.bias.detach().clone()
        torch.save(state, f"{out_dir}/{arch}.pth")
        write_safetensors(f"{out_dir}/{arch}.safetensors", state, {"source": "classifier_parity.py"})
        torch.manual_seed(99)
        x = torch.randn(*shape)
        expected = {"input": x}
        with torch.no_grad():
            model.eval()
            fmap, hidden = parts(x)
            expected.update(eval_logits=head(hidden), eval_features=fmap, eval_aux=aux(hidden))
            if arch == "densenet121":
                assert torch.allclose(model(x), expected["eval_logits"], atol=1e-6)
            model.train()
            fmap, hidden = parts(x)
            expected.update(train_logits=head(hidden))
        write_safetensors(f"{out_dir}/{arch}_expected.safetensors", expected)
        print(arch, "ok", flush=True)


if __name__ == "__main__":
    main()
