# Text-dependent scoring by DTW on RAVDESS (a negative result, RESULTS.md third round).
# gcc -O2 -shared -fPIC -o libdtw.so dtw.c; F=hb|mfcc /usr/bin/python3 dtw_ravdess.py
import sys, os, ctypes, numpy as np
sys.path.insert(0,'/work/main/train/speaker/research')
from exp_base import *
from exp_sysx import FE
lib=ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'libdtw.so')); lib.dtw.restype=ctypes.c_double
P=ctypes.POINTER(ctypes.c_double)
def dtw(a,b):
    d=((a[:,None,:]-b[None,:,:])**2).sum(-1); d=np.sqrt(d); d=np.ascontiguousarray(d,dtype=np.float64)
    acc=np.empty_like(d)
    return lib.dtw(d.ctypes.data_as(P),d.shape[0],d.shape[1],acc.ctypes.data_as(P))
MODE=os.environ.get('F','hb')
fe=FE(lo=1000,nc=int(os.environ.get('NC','20')),tilt=True,mode='m',delta=False)
Dm=dctm(64,20)
def feat(ap):
    x,m=load(ap)
    if MODE=='hb': f=fe.frames(x,m)
    else:
        if m.sum()<10: m=np.ones(len(m),bool)
        f=(x[m].astype(np.float64)@Dm.T)[:,1:]
    return f.astype(np.float64)
en,tr=read_set('ravdess'); cache={}
def E(ap):
    if ap not in cache: cache[ap]=feat(ap)
    return cache[ap]
# standardise per dimension over all ravdess enrollment frames (global, not per file)
allf=np.concatenate([E(p) for ps in en.values() for p in ps]); mu=allf.mean(0); sd=allf.std(0)+1e-6
mods=sorted(en); tests=sorted({p for _,p,_ in tr})
S=np.zeros((len(mods),len(tests)))
for j,p in enumerate(tests):
    b=(E(p)-mu)/sd
    for k,mm in enumerate(mods):
        S[k,j]=-min(dtw(b,(E(q)-mu)/sd) for q in en[mm])
mi={m:i for i,m in enumerate(mods)}; ti={p:i for i,p in enumerate(tests)}
for W in [0,2]:
    tar=[];non=[]
    for mm,p,l in tr:
        k,j=mi[mm],ti[p]; s=S[k,j]; o=[r for r in range(len(mods)) if r!=k]
        z=(S[:,j]-S[:,j].mean())/S[:,j].std()  # test-side normalisation over the models
        v=z[k]-W*max(0,z[o].max()-z[k])
        (tar if l=='target' else non).append(v)
    raw_t=[S[mi[mm],ti[p]] for mm,p,l in tr if l=='target']; raw_n=[S[mi[mm],ti[p]] for mm,p,l in tr if l!='target']
    print(MODE,'W',W,'EER tnorm+rival %.3f raw %.3f'%(eer(np.array(tar),np.array(non)),eer(np.array(raw_t),np.array(raw_n))),flush=True)
