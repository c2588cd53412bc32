import sys
sys.path.insert(0,'/work/main/train/speaker/research')
sys.argv=[sys.argv[0],'base-match-dom']+sys.argv[1:]
AUG=os.environ.get('AUG','0')=='1' if 'os' in dir() else False
from domain_cohort import *
from exp_sysx import FE
fe2=FE(lo=3400,hi=7600,nc=int(os.environ.get('NC2','8')),tilt=True,mode='m',delta=False)
from exp_sysx import cent as _cent
_hi=_cent>4500; _mid=(_cent>=1000)&(_cent<=3400)
def bwd(x,m):
    if m.sum()<10: m=np.ones(len(m),bool)
    return float(np.median(x[m][:,_hi].mean(1)-x[m][:,_mid].mean(1)))
def gate(x,m): return 1/(1+np.exp(-(bwd(x,m)+5.5)/0.3))
fe=FE(lo=int(os.environ.get('LO','1000')),hi=int(os.environ.get('HI','7600')),nc=int(os.environ.get('NC','20')),tilt=True,mode=os.environ.get('HM','m'),delta=os.environ.get('HD','0')=='1')
A=[];H=[];H2=[];G=[]
for r in rows:
    if r[0] in held: continue
    x,m=F(r); A.append(embed(stats(frames(x,m)))); H.append(fe.stats(fe.frames(x,m))); H2.append(fe2.stats(fe2.frames(x,m))); G.append(gate(x,m))
A=np.array(A);H=np.array(H); hm=H.mean(0); hs=H.std(0)+1e-6
_H2=np.array(H2); _G=np.array(G); hm2=_H2[_G>0.5].mean(0); hs2=_H2[_G>0.5].std(0)+1e-6
if os.environ.get('AUG')=='1':
    ca=[];chh=[]
    for r in rows:
        if r[0] in held: continue
        x,m=F(r)
        for k in range(2):
            L=int(rng.integers(80,300)); n=len(x); st=int(rng.integers(0,max(1,n-L)))
            xx,mm=x[st:st+L],m[st:st+L]
            if k==1: xx=addnoise(xx,mm,rng)
            ca.append(embed(stats(frames(xx,mm)))); chh.append(fe.stats(fe.frames(xx,mm))); H2.append(fe2.stats(fe2.frames(xx,mm))); G.append(gate(xx,mm))
    A=np.concatenate([A,np.array(ca)]); H=np.concatenate([H,np.array(chh)])
def hemb(h): e=(h-hm)/hs; return e/np.linalg.norm(e,axis=-1,keepdims=True)
CH=hemb(H)
H2=np.array(H2); G=np.array(G)
def hemb2(h): e=(h-hm2)/hs2; return e/np.linalg.norm(e,axis=-1,keepdims=True)
CH2=hemb2(H2)
WU=float(os.environ.get('WU','0.2'))
def fuse(a,h,h2,g,w):
    e=np.concatenate([np.sqrt(w)*a,np.sqrt(max(0,1-w-WU))*h,np.sqrt(WU)*g[...,None]*h2],-1)
    return e/np.linalg.norm(e,axis=-1,keepdims=True)
def run(w,W=2):
    coh=fuse(A,CH,CH2,G,w)
    res=[]
    for st in SETS:
        en,tr=read_set(st); cache={}
        def E(ap):
            if ap not in cache:
                x,m=load(ap); cache[ap]=fuse(E1(ap),hemb(fe.stats(fe.frames(x,m))),hemb2(fe2.stats(fe2.frames(x,m))),np.array(gate(x,m)),w)
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
