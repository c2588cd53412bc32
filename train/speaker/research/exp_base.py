import sys; sys.path.insert(0,'/work/main/train/speaker/research')
from common import *
import numpy as np, scipy.linalg as sl, time, struct, os
def dctm(n,k):
    c=np.arange(k)[:,None]; m=np.arange(n)[None,:]
    d=np.sqrt(2/n)*np.cos(np.pi*c*(m+.5)/n); d[0]*=np.sqrt(.5); return d.astype(np.float32)
def deltas(x):
    p=np.pad(x,((2,2),(0,0)),mode='edge')
    return (-2*p[:-4]-p[1:-3]+p[3:-1]+2*p[4:])/10
def loadf(p):
    b=open(p,'rb').read(); nf,d=struct.unpack('<II',b[:8])
    return np.frombuffer(b[8:8+4*nf*d],dtype='<f4').reshape(nf,d), np.frombuffer(b[8+4*nf*d:],dtype='u1').astype(bool)
TF='/work/scratch/speaker/trainfeats/'
def train_rows(vars=('clean','nb')):
    rows=[l.rstrip('\n').split('\t') for l in open(TF+'list.tsv')]
    return [r for r in rows if r[3].split('-')[1][:-4] in vars]
def lda(X,Y,n,reg=1e-6):
    mu=X.mean(0); Xc=X-mu
    U,S,Vt=np.linalg.svd(Xc,full_matrices=False)
    keep=S>S[0]*1e-5
    P=Vt[keep].T/(S[keep]/np.sqrt(len(X)))
    Z=Xc@P; ks=np.unique(Y)
    Sw=np.zeros((Z.shape[1],)*2); means=np.zeros((len(ks),Z.shape[1]))
    for j,k in enumerate(ks):
        z=Z[Y==k]; mk=z.mean(0); means[j]=mk; d=z-mk; Sw+=d.T@d
    Sw/=len(Z); Sb=np.cov(means.T,bias=True)
    w,V=sl.eigh(Sb,Sw+reg*np.eye(len(Sw)))
    return mu, P@V[:,::-1][:,:n]
def rav_diag(scores_by_trial):
    # scores_by_trial: list of (model,path,label,score)
    import collections
    tar=collections.defaultdict(list); non_same=[]; non_cross=[]
    for m,p,l,s in scores_by_trial:
        fn=os.path.basename(p).split('.')[0].split('-'); emo=fn[2]+'-'+fn[3]; act=int(fn[6]); ma=int(m.split('-')[1])
        if l=='target': tar[emo].append(s)
        elif (act%2)==(ma%2): non_same.append(s)
        else: non_cross.append(s)
    allt=np.concatenate([v for v in tar.values()])
    print('same-gender-only EER %.3f cross-gender-only %.3f all %.3f'%(eer(allt,np.array(non_same)),eer(allt,np.array(non_cross)),eer(allt,np.array(non_same+non_cross))))
    print(' '.join('%s:%.2f'%(k,eer(np.array(v),np.array(non_same+non_cross))) for k,v in sorted(tar.items())))
