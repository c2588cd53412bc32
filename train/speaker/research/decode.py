import csv, os, subprocess, hashlib, sys
S='/work/shared/voice-data/sets'
out='/work/scratch/speaker/raw'
jobs=[]
for st in ['train-pool','librispeech','fsdd','audiomnist_az','ravdess','tortoise-spoof']:
    for fn in ['speakers.csv','enroll.csv','trials.csv']:
        p=os.path.join(S,st,fn)
        if not os.path.exists(p): continue
        for r in csv.DictReader(open(p)):
            ap=os.path.normpath(os.path.join(S,st,r['path']))
            jobs.append((st,ap))
seen=set(); lst=open('/work/scratch/speaker/files.tsv','w')
for st,ap in jobs:
    if ap in seen: continue
    seen.add(ap)
    h=hashlib.md5(ap.encode()).hexdigest()[:16]
    lst.write(f'{st}\t{ap}\t{h}\n')
lst.close()
n=0
for st,ap in jobs:
    pass
for line in open('/work/scratch/speaker/files.tsv'):
    st,ap,h=line.rstrip('\n').split('\t')
    o=os.path.join(out,h+'.f32')
    if not os.path.exists(o):
        subprocess.run(f"sox '{ap}' -t raw -e floating-point -b 32 -c 1 -r 16000 {o}.tmp && mv {o}.tmp {o}",shell=True,check=True)
    if st=='train-pool':
        o=os.path.join(out,h+'.nb.f32')
        if not os.path.exists(o):
            subprocess.run(f"sox '{ap}' -t wav -r 8000 -e mu-law - sinc 250-3500 | sox -t wav - -t raw -e floating-point -b 32 -c 1 -r 16000 {o}.tmp && mv {o}.tmp {o}",shell=True,check=True)
    n+=1
    if n%500==0: print(n,flush=True)
print('done',n)
