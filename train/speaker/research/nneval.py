import os
import sys; sys.path.insert(0,'.'); sys.path.insert(0,os.path.join(os.path.dirname(os.path.abspath(__file__)),'..'))
from common import *
import torch, torch.nn.functional as F
from train_nn import TDNN
torch.set_num_threads(1)
sd=torch.load(sys.argv[1]); C=sd['convs.0.weight'].shape[0]; nspk=sd['head'].shape[0]
net=TDNN(C,nspk); net.load_state_dict(sd); net.eval()
def emb(ap):
    x,m=load(ap)
    if m.sum()>=10: x=x[m]
    x=x-x.mean(0,keepdims=True)
    if len(x)<15: x=np.concatenate([x]*(15//len(x)+1))[:15]
    with torch.no_grad(): return F.normalize(net.embed(torch.from_numpy(np.ascontiguousarray(x,dtype=np.float32))[None]))[0].numpy()
evaluate(emb)
