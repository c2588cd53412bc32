# The v3/v4 embedding's design, in the Python replica: the shipped LDA part
# (domain_cohort.py's recipe) weighted sqrt(w), an untrained high-band part
# (exp_sysx.FE: cepstra of the mel bands LO..HI Hz, each frame's tilt
# removed, c1..c(NC-1) means, standardised on train-pool) weighted
# sqrt(1-w-WU); adaptive s-norm with the train-pool cohort (AUG=1: plus the
# short, partly noisy crops the shipped cohort has) and the tenant's samples,
# then the rival rule (weight 2). Prints EER insiders/outsiders per set.
#   NC=10 LO=1000 HI=3400 AUG=1 WS=0.8,0.65,0.5 TK=200 /usr/bin/python3 highband_fusion.py (v4: HI=3400, w 0.8)
# WU > 0 adds a third part (RESULTS.md, third and fourth rounds): the bands
# 3.4-7.6 kHz (c1..c(NC2-1), weight WU), multiplied by a gate that is ~1 for
# wideband audio and ~0 for telephone-band audio (median over speech frames of
# the mean log-mel of the bands above 4.5 kHz minus that of 1-3.4 kHz, sigmoid
# around -5.5 nats), the embedding renormalised after it. WN > 0 scores as
# the shipped v5 does (speaker.Model.sim): pairs that do not both have the
# upper band are compared without it, the other parts reweighted to WN, 1-WN.
#   HI=3400 NC=10 AUG=1 WU=0.15 WS=0.65,0.55 /usr/bin/python3 highband_fusion.py
#   HI=3400 NC=10 AUG=1 WU=0.15 WN=0.8 WS=0.55 /usr/bin/python3 highband_fusion.py (v5)
import os,sys
_here=os.path.dirname(os.path.abspath(__file__))
sys.path[:0]=[_here,os.path.dirname(_here)]  # domain_cohort, exp_sysx; train_stats
sys.argv=[sys.argv[0],'base-match-dom']+sys.argv[1:]
from domain_cohort import *
from exp_sysx import FE
fe=FE(lo=int(os.environ.get('LO','1000')),hi=int(os.environ.get('HI','7600')),nc=int(os.environ.get('NC','20')),tilt=True,mode=os.environ.get('HM','m'),delta=os.environ.get('HD','0')=='1')
WU=float(os.environ.get('WU','0'))
fe2=FE(lo=3400,hi=7600,nc=int(os.environ.get('NC2','8')),tilt=True,mode='m',delta=False)
from exp_sysx import cent as _cent
_hi=_cent>4500; _mid=(_cent>=1000)&(_cent<=3400)
def gate(x,m):
    if m.sum()<10: m=np.ones(len(m),bool)
    return 1/(1+np.exp(-(float(np.median(x[m][:,_hi].mean(1)-x[m][:,_mid].mean(1)))+5.5)/0.3))
def parts(x,m):  # raw statistics of the high band, the upper band (or None) and its gate
    if not WU: return fe.stats(fe.frames(x,m)),None,0.
    return fe.stats(fe.frames(x,m)),fe2.stats(fe2.frames(x,m)),gate(x,m)
A=[];P=[]
for r in rows:
    if r[0] in held: continue
    x,m=F(r); A.append(embed(stats(frames(x,m)))); P.append(parts(x,m))
whole=len(P)  # standardisation: whole recordings only
if os.environ.get('AUG')=='1':
    for xx,mm in cohort_crops(rng):
        A.append(embed(stats(frames(xx,mm)))); P.append(parts(xx,mm))
A=np.array(A); H=np.array([p[0] for p in P]); hm=H[:whole].mean(0); hs=H[:whole].std(0)+1e-6
def hemb(h): e=(h-hm)/hs; return e/np.linalg.norm(e,axis=-1,keepdims=True)
CH=hemb(H)
if WU:
    H2=np.array([p[1] for p in P]); G=np.array([p[2] for p in P]); wide=G[:whole]>0.5
    hm2=H2[:whole][wide].mean(0); hs2=H2[:whole][wide].std(0)+1e-6
    def hemb2(h): e=(h-hm2)/hs2; return e/np.linalg.norm(e,axis=-1,keepdims=True)
    CH2=hemb2(H2)
def fuse(a,h,h2,g,w):
    e=[np.sqrt(w)*a,np.sqrt(max(0,1-w-WU))*h]
    if WU: e.append(np.sqrt(WU)*np.asarray(g)[...,None]*h2)
    e=np.concatenate(e,-1); return e/np.linalg.norm(e,axis=-1,keepdims=True)
WN=float(os.environ.get('WN','0'))  # > 0: the LDA part's weight when the upper band is not shared (v5's nb_weight)
from train_stats import part_sim
def sim(X,Y,w):
    """v5's Model.sim (train_stats.part_sim) with the LDA part weighted w."""
    if not (WU and WN): return np.atleast_2d(X)@np.atleast_2d(Y).T
    L=A.shape[1]; return part_sim(X,Y,L,L+CH.shape[1],WU,WN,w)
def run(w,W=2):
    coh=fuse(A,CH,CH2 if WU else None,G if WU else None,w)
    res=[]
    for st in SETS:
        en,tr=read_set(st); cache={}
        def E(ap):
            if ap not in cache:
                x,m=load(ap); h,h2,g=parts(x,m); cache[ap]=fuse(E1(ap),hemb(h),hemb2(h2) if WU else None,g,w)
            return cache[ap]
        mods=sorted(en); mi={mm:i for i,mm in enumerate(mods)}
        T=np.array([np.mean([E(p) for p in en[mm]],0) for mm in mods]); T/=np.linalg.norm(T,axis=1,keepdims=True)
        samp={mm:np.array([E(p) for p in en[mm]]) for mm in mods}
        tests=sorted({p for _,p,_ in tr}); ti={p:i for i,p in enumerate(tests)}; B=np.array([E(p) for p in tests])
        def ns(e,excl):
            c=np.concatenate([coh]+[samp[k] for k in mods if k!=excl]); s=np.sort(sim(e,c,w)[0])[::-1][:int(os.environ.get('TK','200'))]; return s.mean(),s.std()+1e-6
        N=np.zeros((len(mods),len(tests)))
        for k,mm in enumerate(mods):
            a,b=ns(T[k],mm); pb=np.array([ns(x,mm) for x in B]); raw=sim(T[k],B,w)[0]; N[k]=0.5*((raw-a)/b+(raw-pb[:,0])/pb[:,1])
        true={p:mm for mm,p,l in tr if l=='target'}
        tar,ins,outs=[],[],[]
        for mm,p,l in tr:
            k,j=mi[mm],ti[p]; s=N[k,j]
            def sc(skip):
                o=[r for r in range(len(mods)) if r!=k and r not in skip]; return s-W*max(0,N[o,j].max()-s)
            if l=='target': tar.append(sc(()))
            else:
                ins.append(sc(()))
                if p in true: outs.append(sc((mi[true[p]],)))
        res.append('%s %.3f/%.3f'%(st,eer(np.array(tar),np.array(ins)),eer(np.array(tar),np.array(outs))))
    print('w=%.2f'%w,' '.join(res),flush=True)
for w in [float(v) for v in os.environ.get('WS','1,0.7,0.5,0.3,0').split(',')]: run(w)
