from exp_base import *
import sys, os
NC=30; Dm=dctm(64,NC)
MODE=sys.argv[1]  # base | aug
def frames(x,m):
    c=x.astype(np.float64)@Dm.T; f=np.concatenate([c,deltas(c)],1)
    if m.sum()<10: m=np.ones(len(m),bool)
    return f[m]
def stats(f): return np.concatenate([f.mean(0)[1:],f.std(0)])
mel=lambda f:2595*np.log10(1+f/700); imel=lambda m:700*(10**(m/2595)-1)
edges=imel(np.linspace(mel(20),mel(7600),66)); bw=edges[2:]-edges[:-2]
rows=train_rows(('clean','nb'))
allspk=sorted({r[0] for r in rows}); held=set(allspk[7::8])
spk=[s for s in allspk if s not in held]; sid={s:i for i,s in enumerate(spk)}
rng=np.random.default_rng(0)
# noise shapes in mel-band power (relative)
f_c=imel(np.linspace(mel(20),mel(7600),66))[1:-1]
shapes=[bw/bw.sum(), (bw/np.maximum(f_c,50))/(bw/np.maximum(f_c,50)).sum(), np.exp(-f_c/400)/np.exp(-f_c/400).sum()]
def addnoise(x,m,r):
    p=np.exp(x.astype(np.float64))
    sp=p[m].sum(1).mean() if m.sum()>0 else p.sum(1).mean()
    snr=r.uniform(-3,20); sh=shapes[r.integers(len(shapes))]*np.exp(r.normal(0,0.3,64))
    n=sh/sh.sum()*sp/10**(snr/10)
    return np.log(p+n).astype(np.float32)
feats={}
def F(r):
    if r[3] not in feats: feats[r[3]]=loadf(TF+r[3])
    return feats[r[3]]
X=[];Y=[];full=[]
for r in rows:
    if r[0] in held: continue
    x,m=F(r); f=frames(x,m); n=len(f)
    for st in range(0,max(1,n-150),100):
        X.append(stats(f[st:st+int(rng.integers(100,400))])); Y.append(sid[r[0]])
    full.append(len(X)); X.append(stats(f)); Y.append(sid[r[0]])
X=np.array(X); Y=np.array(Y)
mu,W=lda(X,Y,256)
def project(s): e=(s-mu)@W; return e/np.linalg.norm(e,axis=-1,keepdims=True)
em=project(X).mean(0)
def embed(s): e=project(s)-em; return e/np.linalg.norm(e,axis=-1,keepdims=True)
coh=[embed(X[full])]
def cohort_crops(rng):
    """The shipped cohort's short crops (log-mel, mask) of the training speakers:
    two per recording, 0.8-3 s, the second with noise added."""
    for r in rows:
        if r[0] in held: continue
        x,m=F(r)
        for k in range(2):
            L=int(rng.integers(80,300)); n=len(x); st=int(rng.integers(0,max(1,n-L)))
            xx,mm=x[st:st+L],m[st:st+L]
            if k==1: xx=addnoise(xx,mm,rng)
            yield xx,mm
if 'aug' in MODE:
    # cohort: short crops of clean/nb, with and without noise
    coh.append(embed(np.array([stats(frames(xx,mm)) for xx,mm in cohort_crops(rng)])))
coh=np.concatenate(coh); print('cohort',coh.shape)
TOPK=200
def snstats(e):
    s=np.sort(e@coh.T,axis=-1)[...,::-1][...,:TOPK]; return s.mean(-1),s.std(-1)+1e-6
# calibration trials from held-out speakers
cal=[];cy=[];cg=[]
g=0
for r in rows:
    if r[0] not in held: continue
    x,m=F(r); n=len(x)
    for k in range(6):
        L=int(rng.integers(50,400)); st=int(rng.integers(0,max(1,n-L)))
        xx,mm=x[st:st+L],m[st:st+L]
        if 'aug' in MODE and k>=3:
            xx=addnoise(xx,mm,np.random.default_rng(1000+k))  # same noise draw for everyone with this k: a shared channel
        cal.append(stats(frames(xx,mm))); cy.append(r[0]); cg.append(k)
ce=embed(np.array(cal)); cy=np.array(cy); cg=np.array(cg)
m_,s_=snstats(ce); raw=ce@ce.T
norm=0.5*((raw-m_[:,None])/s_[:,None]+(raw-m_[None,:])/s_[None,:])
iu=np.triu_indices(len(ce),1); lab=(cy[:,None]==cy[None,:])[iu]; same=(cg[:,None]==cg[None,:])[iu]; sc=norm[iu]
non=sc[~lab & (same if 'match' in MODE else True)]
thr=np.quantile(non,.99); print('threshold',thr, 'nontargets',len(non))
def E1(ap): x,m=load(ap); return embed(stats(frames(x,m)))
def main():
    TOPK2=int(os.environ.get('TOPK2','200'))
    for st in SETS:
        en,tr=read_set(st); cache={}
        def E(ap):
            if ap not in cache: cache[ap]=E1(ap)
            return cache[ap]
        models={mm:np.mean([E(p) for p in ps],0) for mm,ps in en.items()}
        samp={mm:np.array([E(p) for p in ps]) for mm,ps in en.items()}
        tar=[];nn=[]
        true={p:mm for mm,p,l in tr if l=='target'}
        def ns(e,excl,excl2=None):
            c=np.concatenate([coh]+[samp[k] for k in samp if k!=excl and k!=excl2]) if 'dom' in MODE else coh
            s=np.sort(c@e)[::-1][:TOPK2]; return s.mean(),s.std()+1e-6
        for mm,p,l in tr:
            t=models[mm]/np.linalg.norm(models[mm]); b=E(p); s=t@b; x2=true.get(p) if 'outsider' in MODE else None; a1,b1=ns(t,mm,x2); a2,b2=ns(b,mm,x2)
            (tar if l=='target' else nn).append(0.5*((s-a1)/b1+(s-a2)/b2))
        tar=np.array(tar); nn=np.array(nn)
        print('%s eer=%.3f far=%.3f frr=%.3f'%(st,eer(tar,nn),(nn>=thr).mean(),(tar<thr).mean()),flush=True)

if __name__=='__main__':
    main()
