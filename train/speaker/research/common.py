import numpy as np, os, csv, hashlib
S=os.environ.get('VOXGATE_SETS_DIR','/work/shared/voice-data/sets')
F=os.environ.get('SPK_FEATS','/work/scratch/speaker/feat')
def h(ap): return hashlib.md5(ap.encode()).hexdigest()[:16]
def load(ap, nb=False):
    b=open(os.path.join(F,h(ap)+('.nb' if nb else '')+'.bin'),'rb').read()
    nf,d=np.frombuffer(b[:8],dtype='<u4')
    x=np.frombuffer(b[8:8+4*nf*d],dtype='<f4').reshape(nf,d)
    m=np.frombuffer(b[8+4*nf*d:],dtype='u1').astype(bool)
    return x,m
def train_list():
    rows=list(csv.DictReader(open(os.path.join(S,'train-pool','speakers.csv'))))
    return [(os.path.normpath(os.path.join(S,'train-pool',r['path'])),r['speaker'],r['corpus']) for r in rows]
def read_set(st):
    d=os.path.join(S,st)
    en={}
    for r in csv.DictReader(open(os.path.join(d,'enroll.csv'))):
        en.setdefault(r['model'],[]).append(os.path.normpath(os.path.join(d,r['path'])))
    tr=[(r['model'],os.path.normpath(os.path.join(d,r['path'])),r['label']) for r in csv.DictReader(open(os.path.join(d,'trials.csv'))) if r['label'] in ('target','nontarget')]
    return en,tr
def eer(tar,non):
    tar=np.sort(tar); non=np.sort(non)
    s=np.concatenate([tar,non]); l=np.concatenate([np.ones(len(tar)),np.zeros(len(non))])
    o=np.argsort(s,kind='mergesort'); l=l[o]
    # threshold sweep: reject <= s[i]
    frr=np.concatenate([[0],np.cumsum(l)/len(tar)])
    far=np.concatenate([[1],1-np.cumsum(1-l)/len(non)])
    i=np.argmin(np.abs(frr-far))
    return (frr[i]+far[i])/2
SETS=['ravdess','librispeech','fsdd','audiomnist_az']
def evaluate(embfn, sets=SETS, score=None, verbose=True):
    res={}
    for st in sets:
        en,tr=read_set(st)
        cache={}
        def E(ap):
            if ap not in cache: cache[ap]=embfn(ap)
            return cache[ap]
        models={m:np.mean([E(p) for p in ps],0) for m,ps in en.items()}
        tar=[];non=[]
        for m,p,l in tr:
            a=models[m]; b=E(p)
            s=score(a,b) if score else np.dot(a/np.linalg.norm(a),b/np.linalg.norm(b))
            (tar if l=='target' else non).append(s)
        res[st]=eer(np.array(tar),np.array(non))
    if verbose: print(' '.join(f'{k}={v:.3f}' for k,v in res.items()),flush=True)
    return res
