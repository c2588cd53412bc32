from exp_sysx import *
import sys, pickle
C=int(sys.argv[1]); R=float(sys.argv[6]) if len(sys.argv)>6 else 16.0
VN=sys.argv[5]=='1' if len(sys.argv)>5 else True
fe=FE(lo=int(sys.argv[2]),nc=int(sys.argv[3]),tilt=sys.argv[4]=='1',mode='m',delta=True)
def frames(x,m):
    f=fe.frames(x,m); f=f-f.mean(0)
    if VN: f=f/(f.std(0)+1e-3)
    return f
rows=train_rows(('clean','nb')); rng=np.random.default_rng(0)
X=np.concatenate([frames(*(lambda x,m:(x,mask(x)))(*loadf(TF+r[3])))[::3] for r in rows]).astype(np.float32)
print('frames',X.shape,flush=True)
import time; t0=time.time()
w=np.ones(1); mu=X.mean(0,keepdims=True); var=X.var(0,keepdims=True)
def llk(x,w,mu,var):
    iv=1/var; const=np.log(w)-0.5*np.sum(np.log(2*np.pi*var),1)-0.5*np.sum(mu*mu*iv,1)
    return const+x@(mu*iv).T-0.5*(x*x)@iv.T
while len(w)<C:
    eps=0.2*np.sqrt(var); mu=np.concatenate([mu-eps,mu+eps]); var=np.concatenate([var,var]); w=np.concatenate([w,w])/2
    for it in range(4 if len(w)<C else 8):
        N=0;F=0;S=0
        for b in range(0,len(X),50000):
            xb=X[b:b+50000]; ll=llk(xb,w,mu,var); ll-=ll.max(1,keepdims=True); g=np.exp(ll); g/=g.sum(1,keepdims=True)
            N=N+g.sum(0); F=F+g.T@xb; S=S+g.T@(xb*xb)
        w=np.maximum(N/N.sum(),1e-6); w/=w.sum(); mu=F/np.maximum(N,1e-3)[:,None]; var=np.maximum(S/np.maximum(N,1e-3)[:,None]-mu*mu,1e-3)
print('ubm',time.time()-t0,flush=True)
RES={}
def lse(ll): mx=ll.max(1,keepdims=True); return mx[:,0]+np.log(np.exp(ll-mx).sum(1))
for st in SETS:
    en,tr=read_set(st); Fc={}
    def G(ap):
        if ap not in Fc: x,m=load(ap); Fc[ap]=frames(x,mask(x))
        return Fc[ap]
    models={}
    for m,ps in en.items():
        f=np.concatenate([G(p) for p in ps]); ll=llk(f,w,mu,var); ll-=ll.max(1,keepdims=True); g=np.exp(ll); g/=g.sum(1,keepdims=True)
        N=g.sum(0); Fs=g.T@f; a=(N/(N+R))[:,None]; models[m]=a*(Fs/np.maximum(N,1e-6)[:,None])+(1-a)*mu
    tar=[];non=[]; ub={}; SC=[]
    for m,p,l in tr:
        x=G(p)
        if p not in ub: ub[p]=lse(llk(x,w,mu,var))
        s=np.mean(lse(llk(x,w,models[m],var))-ub[p]); (tar if l=='target' else non).append(s); SC.append(s)
    print(st,'%.3f'%eer(np.array(tar),np.array(non)),flush=True)
    RES[st]=(tar,non)
    if st=='ravdess':
        rav_diag([(m,p,l,s) for (m,p,l),s in zip(tr,SC)])
pickle.dump(RES,open('gmm_%s.pkl'%'_'.join(sys.argv[1:]),'wb'))
