# The v3 embedding's design, in the Python replica: the shipped LDA part
# (domain_cohort.py's recipe) weighted sqrt(w), an untrained high-band part
# (exp_sysx.FE: cepstra of the mel bands from LO Hz, each frame's tilt
# removed, c1..c(NC-1) means, standardised on train-pool) weighted
# sqrt(1-w); adaptive s-norm with the train-pool cohort (AUG=1: plus the
# short, partly noisy crops the shipped cohort has) and the tenant's samples,
# then the rival rule (weight 2). Prints EER insiders/outsiders per set.
#   NC=10 LO=1000 HI=3400 AUG=1 WS=0.8,0.65,0.5 TK=200 /usr/bin/python3 highband_fusion.py (v4: HI=3400, w 0.8)
import sys
sys.path.insert(0,'/work/main/train/speaker/research')
sys.argv=[sys.argv[0],'base-match-dom']+sys.argv[1:]
from domain_cohort import *
from exp_sysx import FE
fe=FE(lo=int(os.environ.get('LO','1000')),hi=int(os.environ.get('HI','7600')),nc=int(os.environ.get('NC','20')),tilt=True,mode=os.environ.get('HM','m'),delta=os.environ.get('HD','0')=='1')
A=[];H=[]
for r in rows:
    if r[0] in held: continue
    x,m=F(r); A.append(embed(stats(frames(x,m)))); H.append(fe.stats(fe.frames(x,m)))
A=np.array(A);H=np.array(H); hm=H.mean(0); hs=H.std(0)+1e-6
if os.environ.get('AUG')=='1':
    ca=[];chh=[]
    for r in rows:
        if r[0] in held: continue
        x,m=F(r)
        for k in range(2):
            L=int(rng.integers(80,300)); n=len(x); st=int(rng.integers(0,max(1,n-L)))
            xx,mm=x[st:st+L],m[st:st+L]
            if k==1: xx=addnoise(xx,mm,rng)
            ca.append(embed(stats(frames(xx,mm)))); chh.append(fe.stats(fe.frames(xx,mm)))
    A=np.concatenate([A,np.array(ca)]); H=np.concatenate([H,np.array(chh)])
def hemb(h): e=(h-hm)/hs; return e/np.linalg.norm(e,axis=-1,keepdims=True)
CH=hemb(H)
def run(w,W=2):
    coh=np.concatenate([np.sqrt(w)*A,np.sqrt(1-w)*CH],1)
    res=[]
    for st in SETS:
        en,tr=read_set(st); cache={}
        def E(ap):
            if ap not in cache:
                x,m=load(ap); cache[ap]=np.concatenate([np.sqrt(w)*E1(ap),np.sqrt(1-w)*hemb(fe.stats(fe.frames(x,m)))])
            return cache[ap]
        mods=sorted(en); mi={mm:i for i,mm in enumerate(mods)}
        T=np.array([np.mean([E(p) for p in en[mm]],0) for mm in mods]); T/=np.linalg.norm(T,axis=1,keepdims=True)
        samp={mm:np.array([E(p) for p in en[mm]]) for mm in mods}
        tests=sorted({p for _,p,_ in tr}); ti={p:i for i,p in enumerate(tests)}; B=np.array([E(p) for p in tests])
        def ns(e,excl):
            c=np.concatenate([coh]+[samp[k] for k in mods if k!=excl]); s=np.sort(c@e)[::-1][:int(os.environ.get('TK','200'))]; return s.mean(),s.std()+1e-6
        N=np.zeros((len(mods),len(tests)))
        for k,mm in enumerate(mods):
            a,b=ns(T[k],mm); pb=np.array([ns(x,mm) for x in B]); raw=B@T[k]; N[k]=0.5*((raw-a)/b+(raw-pb[:,0])/pb[:,1])
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
