import sys; sys.path.insert(0,'.')
from common import *
import numpy as np, scipy.linalg as sl, time, struct
NC=int(os.environ.get('NC',30)); MODE=os.environ.get('MODE','ms'); LDA=int(os.environ.get('LDA',200))
VARS=os.environ.get('VARS','clean,nb').split(','); LO=int(os.environ.get('LO',0)); CMN=int(os.environ.get('CMN',0))
def dctm(n,k):
    c=np.arange(k)[:,None]; m=np.arange(n)[None,:]
    d=np.sqrt(2/n)*np.cos(np.pi*c*(m+.5)/n); d[0]*=np.sqrt(.5); return d.astype(np.float32)
D=dctm(64,NC)[LO:]
def deltas(x):
    p=np.pad(x,((2,2),(0,0)),mode='edge')
    return (-2*p[:-4]-p[1:-3]+p[3:-1]+2*p[4:])/10
def frames(x,m):
    c=x@D.T
    f=np.concatenate([c,deltas(c)],1)
    if m.sum()<10: m=np.ones(len(m),bool)
    f=f[m]
    if CMN: f=f-f.mean(0)
    return f
def stats(f):
    mu=f.mean(0); g=f-mu; out=[]
    if 'm' in MODE: out.append(mu)
    if 's' in MODE: out.append(g.std(0))
    return np.concatenate(out)
def loadf(p):
    b=open(p,'rb').read(); nf,d=struct.unpack('<II',b[:8])
    return np.frombuffer(b[8:8+4*nf*d],dtype='<f4').reshape(nf,d), np.frombuffer(b[8+4*nf*d:],dtype='u1').astype(bool)
t0=time.time()
rows=[l.rstrip('\n').split('\t') for l in open('/work/scratch/speaker/trainfeats/list.tsv')]
rows=[r for r in rows if r[3].split('-')[1][:-4] in VARS]
spk=sorted({r[0] for r in rows}); sid={s:i for i,s in enumerate(spk)}
X=[];Y=[];FULL=[]
rng=np.random.default_rng(0)
for r in rows:
    i=sid[r[0]]; f=frames(*loadf('/work/scratch/speaker/trainfeats/'+r[3])); n=len(f)
    for st in range(0,max(1,n-150),100):
        L=rng.integers(100,400); X.append(stats(f[st:st+L])); Y.append(i)
    FULL.append(len(X)); X.append(stats(f)); Y.append(i)
X=np.array(X,dtype=np.float64); Y=np.array(Y)
mu=X.mean(0); Xc=X-mu
U,S,Vt=np.linalg.svd(Xc,full_matrices=False)
keep=S>S[0]*1e-5
P=Vt[keep].T/(S[keep]/np.sqrt(len(X)))
Z=Xc@P
Sw=np.zeros((Z.shape[1],)*2); means=np.zeros((len(spk),Z.shape[1]))
for k in range(len(spk)):
    z=Z[Y==k]; mk=z.mean(0); means[k]=mk; d=z-mk; Sw+=d.T@d
Sw/=len(Z); Sb=np.cov(means.T,bias=True)
w,V=sl.eigh(Sb,Sw+1e-6*np.eye(len(Sw)))
W=P@V[:,::-1][:,:LDA]
E=(X-mu)@W; E/=np.linalg.norm(E,axis=1,keepdims=True); em=E.mean(0); E=E-em; E/=np.linalg.norm(E,axis=1,keepdims=True)
coh=E[FULL]
def emb(ap):
    e=(stats(frames(*load(ap)))-mu)@W; e/=np.linalg.norm(e); e=e-em; return e/np.linalg.norm(e)
def snorm(a,b):
    a=a/np.linalg.norm(a); s=a@b
    sa=np.sort(coh@a)[-200:]; sb=np.sort(coh@b)[-200:]
    return 0.5*((s-sa.mean())/sa.std()+(s-sb.mean())/sb.std())
print(os.environ.get('TAG',''),'NC',NC,'LO',LO,MODE,VARS,'LDA',LDA, f'{time.time()-t0:.0f}s')
r1=evaluate(emb); r2=evaluate(emb,score=snorm)
