from exp_base import *
import sys
mel=lambda f:2595*np.log10(1+f/700); imel=lambda m:700*(10**(m/2595)-1)
cent=imel(np.linspace(mel(20),mel(7600),66))[1:-1]
en,tr=read_set('ravdess')
def mask(x): e=x.mean(1); return e>np.percentile(e,10)+1.5
def run(lo,hi,nc,tilt=False,tag=''):
    b=(cent>=lo)&(cent<=hi); nb=b.sum(); Dm=dctm(nb,nc)
    cache={}
    def E(ap):
        if ap in cache: return cache[ap]
        x,m=load(ap); m=mask(x); y=x[m][:,b]
        if tilt:
            t=np.arange(nb)-nb/2; t=t/np.linalg.norm(t)
            y=y-np.outer(y@t,t)
        c=y@Dm.T; v=c.mean(0)[1:]
        cache[ap]=v; return v
    allv=np.array([E(p) for p in sorted({p for _,p,_ in tr})][:400]); g=allv.mean(0); s=allv.std(0)
    models={m:(np.mean([E(p) for p in ps],0)-g)/s for m,ps in en.items()}
    out=[]
    for m,p,l in tr:
        a=models[m]; bb=(E(p)-g)/s; out.append((m,p,l,a@bb/np.linalg.norm(a)/np.linalg.norm(bb)))
    print(tag,lo,hi,nc,tilt); rav_diag(out)
run(20,7600,30)
run(1000,7600,20)
run(2000,7600,16)
run(1000,7600,20,True)
run(300,7600,30,True)
