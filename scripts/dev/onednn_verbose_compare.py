"""Compares oneDNN's execution times, Smile against PyTorch, from one `smile bench profile` log taken with
ONEDNN_VERBOSE=1 (Smile's lines bare, the PyTorch child's prefixed with [torch_profile.py]):

    ONEDNN_VERBOSE=1 smile bench profile --model_arch resnet50 --image_size 224 --batch_size 16 --repeats 3 > log.txt 2>&1
    python3 onednn_verbose_compare.py log.txt [top]

Per (primitive, implementation, propagation, shape, and for reorders the two formats) it takes the median time of one
call on each side, multiplies by the number of calls, and sums by primitive and propagation kind, over the keys seen
on both sides. With `top`, it also lists the forward convolutions that take the most time.
"""
import collections, re, statistics, sys
sm = collections.defaultdict(list); pt = collections.defaultdict(list)
for line in open(sys.argv[1]):
    torch = line.startswith('[torch_profile.py]')
    if torch: line = line.split('] ', 1)[1]
    if ',exec,cpu,' not in line: continue
    f = line.strip().split(',')
    i = f.index('exec')
    prim, impl, prop, shape, t = f[i + 2], f[i + 3], f[i + 4], f[-2], float(f[-1])
    if prim == 'reorder':
        fmts = re.findall(r'blocked:(\w+)', line)[:2]
        kind = 'activation' if set(fmts) == {'abcd', 'aBcd16b'} else 'weight/other'
        key = (prim, '', kind, '->'.join(fmts) + ' ' + shape)
    else:
        key = (prim, impl, prop, shape)
    (pt if torch else sm)[key].append(t)

# Per key seen on both sides: Smile's and PyTorch's median call times the calls both made.
per_key = {}
for k in set(sm) & set(pt):
    n = min(len(sm[k]), len(pt[k]))
    per_key[k] = (statistics.median(sm[k]) * n, statistics.median(pt[k]) * n, n)

rows = collections.defaultdict(lambda: [0.0, 0.0, 0])
for k, (s, p, n) in per_key.items():
    row = rows[(k[0], k[2])]
    row[0] += s; row[1] += p; row[2] += n
print(f"{'primitive':<14}{'propagation':<18}{'calls':>6}{'Smile ms':>10}{'PyTorch ms':>11}{'ratio':>7}   (median per shape x calls, shapes seen on both sides)")
for (prim, prop), (s, p, n) in sorted(rows.items()):
    print(f"{prim:<14}{prop:<18}{n:>6}{s:>10.0f}{p:>11.0f}{s / p:>6.2f}x")

if len(sys.argv) > 2 and sys.argv[2] == 'top':
    print()
    print(f"{'Smile ms':>9}{'PyTorch ms':>11}{'ratio':>7}  forward convolution (implementation, shape)")
    top = [(s, p, k) for k, (s, p, n) in per_key.items() if k[0] == 'convolution' and k[2] == 'forward_training']
    for s, p, k in sorted(top, reverse=True)[:12]:
        print(f"{s:>9.0f}{p:>11.0f}{s / p:>6.2f}x  {k[1]} {k[3]}")
