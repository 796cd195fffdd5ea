"""Medians and after/before ratios of bench/compare-revisions.sh results (a directory of
store-, nosync-, enc- and redis-<before|after>-<round>.txt files), as a Markdown table."""
import re,glob,statistics,sys
root=sys.argv[1]
def unit(v,u):
    return float(v)*{'ns':1e-3,'µs':1,'us':1,'ms':1e3,'s':1e6}[u]
runs={}  # (kind,which,round) -> dict
for f in sorted(glob.glob(root+'/*.txt')):
    name=re.fullmatch(r'(store|nosync|enc|redis)-(before|after)-(\d+)\.txt', f.split('/')[-1])
    if not name:
        continue
    kind,which,rnd=name.groups()
    txt=open(f).read(); d={}
    if kind in ('store','nosync'):
        for m in re.finditer(r'^(\S+)\s*\n?\s*time:\s+\[\S+ \S+ (\S+) (\S+)', txt, re.M):
            d[m.group(1)]=unit(m.group(2),m.group(3))
    elif kind=='enc':
        m=re.search(r'median: sealed load ([\d.]+)x plain, sealed durable save ([\d.]+)x plain',txt)
        if m: d['sealed load / plain load']=float(m.group(1)); d['sealed durable save / plain save']=float(m.group(2))
    elif kind=='redis':
        m=re.search(r'median: load ([\d.]+)x GET\+decode, save ([\d.]+)x SET, 16 writers ([\d.]+)x and 64 writers ([\d.]+)x.*contended update (\d+) us',txt)
        if m:
            d['load / hand-written GET+decode']=float(m.group(1)); d['save / hand-written SET']=float(m.group(2))
            d['16 writers, x the writes/s of one SET at a time']=float(m.group(3)); d['64 writers, same']=float(m.group(4))
            d['contended update, us']=float(m.group(5))
    runs[(kind,which,rnd)]=d
def series(kind,which,fn):
    out=[]
    for (k,w,r),d in sorted(runs.items()):
        if k==kind and w==which:
            try: out.append(fn(d))
            except KeyError: pass
    return out
rows=[
 ('typed load, ns','store',lambda d:d['read_200B/typed_load']*1000),
 ('typed load / raw heed NOTLS get+decode (same run)','store',lambda d:d['read_200B/typed_load']/d['read_200B/raw_heed_notls_get_and_decode']),
 ('durable save_blocking, us','store',lambda d:d['durable_write_200B/save_blocking']),
 ('durable save / raw heed put+commit (same run)','store',lambda d:d['durable_write_200B/save_blocking']/d['durable_write_200B/raw_heed_put_commit_fsync']),
 ('no-sync save_blocking, us','nosync',lambda d:d['durable_write_200B/save_blocking']),
 ('16 writers, us per write','store',lambda d:d['concurrent_durable_writes/save_tasks/16']),
 ('16 writers, x throughput of raw one-txn-per-write (same run)','store',lambda d:d['concurrent_durable_writes/raw_heed_one_txn_per_write']/d['concurrent_durable_writes/save_tasks/16']),
]
for k in ['sealed load / plain load','sealed durable save / plain save']:
    rows.append(('encryption: '+k,'enc',lambda d,k=k:d[k]))
for k in ['load / hand-written GET+decode','save / hand-written SET','16 writers, x the writes/s of one SET at a time','64 writers, same','contended update, us']:
    rows.append(('redis: '+k,'redis',lambda d,k=k:d[k]))
print('| benchmark | before: median (runs) | after: median (runs) | after / before |')
print('|---|---|---|---|')
for name,kind,fn in rows:
    b=series(kind,'before',fn); n=series(kind,'after',fn)
    if not b or not n: print(f'| {name} | - | - | - |'); continue
    mb,mn=statistics.median(b),statistics.median(n)
    fmt=lambda v: f'{v:.3f}' if v<10 else f'{v:.1f}'
    print(f'| {name} | {fmt(mb)} ({", ".join(fmt(x) for x in b)}) | {fmt(mn)} ({", ".join(fmt(x) for x in n)}) | {mn/mb:.3f} |')
