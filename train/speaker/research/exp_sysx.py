from exp_base import *
import sys, json
mel=lambda f:2595*np.log10(1+f/700); imel=lambda m:700*(10**(m/2595)-1)
cent=imel(np.linspace(mel(20),mel(7600),66))[1:-1]
def mask(x): e=x.mean(1); return e>np.percentile(e,10)+1.5
class FE:
    def __init__(s,lo=1000,hi=7600,nc=20,tilt=True,mode='ms',delta=True,c0=False):
        s.b=(cent>=lo)&(cent<=hi); s.nb=s.b.sum(); s.D=dctm(s.nb,nc); s.tilt=tilt; s.mode=mode; s.delta=delta; s.c0=c0
        t=np.arange(s.nb)-(s.nb-1)/2; s.t=t/np.linalg.norm(t)
    def frames(s,x,m):
        if m.sum()<10: m=np.ones(len(m),bool)
        y=x[m][:,s.b]
        if s.tilt: y=y-np.outer(y@s.t,s.t)
        c=y@s.D.T
        if not s.c0: c=c[:,1:]
        if s.delta: c=np.concatenate([c,deltas(c)],1)
        return c
    def stats(s,f):
        out=[]
        if 'm' in s.mode: out.append(f.mean(0))
        if 's' in s.mode: out.append(f.std(0))
        return np.concatenate(out)
def build(fe,vars=('clean','nb'),ldan=200,trainmask='orig',seg=(100,400)):
    rows=train_rows(vars)
    spk=sorted({r[0] for r in rows}); sid={s:i for i,s in enumerate(spk)}
    X=[];Y=[];FULL=[]; rng=np.random.default_rng(0)
    for r in rows:
        i=sid[r[0]]; x,m=loadf(TF+r[3])
        if trainmask!='orig': m=mask(x)
        f=fe.frames(x,m); n=len(f)
        for st in range(0,max(1,n-150),100):
            L=rng.integers(*seg); X.append(fe.stats(f[st:st+L])); Y.append(i)
        FULL.append(len(X)); X.append(fe.stats(f)); Y.append(i)
    X=np.array(X); Y=np.array(Y)
    mu,W=lda(X,Y,ldan)
    E=(X-mu)@W; E/=np.linalg.norm(E,axis=1,keepdims=True); em=E.mean(0); E-=em; E/=np.linalg.norm(E,axis=1,keepdims=True)
    coh=E[FULL]
    def emb(ap):
        x,m=load(ap); m=mask(x)
        e=(fe.stats(fe.frames(x,m))-mu)@W; e/=np.linalg.norm(e); e=e-em; return e/np.linalg.norm(e)
    def snorm(a,b):
        a=a/np.linalg.norm(a); s=a@b
        sa=np.sort(coh@a)[-200:]; sb=np.sort(coh@b)[-200:]
        return 0.5*((s-sa.mean())/sa.std()+(s-sb.mean())/sb.std())
    return emb,snorm
if __name__=='__main__':
    kw=json.loads(sys.argv[1]) if len(sys.argv)>1 else {}
    bk=json.loads(sys.argv[2]) if len(sys.argv)>2 else {}
    print(kw,bk)
    emb,snorm=build(FE(**kw),**bk)
    evaluate(emb); evaluate(emb,score=snorm)
